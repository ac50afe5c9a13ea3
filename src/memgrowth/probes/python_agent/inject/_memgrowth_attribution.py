"""The agent's attribution: which container, which line, which thread or task holds the growth.

Loaded by the agent thread one second into a process's life (short-lived processes never pay
for it). Four activities, each spaced out so that its cost stays inside its share of time:

- container scan: a breadth-first walk from the roots a person recognises (module globals,
  class attributes, attributes of module-level instances, `functools.lru_cache` wrappers, the
  locals of threads' frames) to the built-in containers below them, recording each container's
  size by its shortest path (`app.cache._sessions`); a bounded number of nodes per scan;
- allocation windows: while the Python heap grows, `tracemalloc` runs for a quarter of a second;
  the allocations still alive at the window's end, grouped by their first frame in the user's
  code, are the sites of retained growth; the newest entries of the growing containers are
  looked up in the same traces, joining a holder to the line that allocates what it keeps;
- thread and task groups: threads by name, start site and the line they block on; pending
  asyncio tasks by coroutine, the line they await on and (in debug mode) where they were made;
- cycles: while `gc` is disabled, the types piling up in generation 0 and whether they sit in
  reference cycles.

The last two live in `_memgrowth_groups`; this module schedules all four.

All of it runs on the agent's thread in Python, which the interpreter preempts every few
milliseconds: the target is paused only for the single C calls (`gc.get_objects`,
`tracemalloc`'s trace copy), each measured and reported as the agent's longest pause.
"""

from __future__ import annotations

import _thread
import gc
import sys
import time

try:
    import _memgrowth_inspect as inspect
    from _memgrowth_groups import (
        CYCLES_GAP_S,
        GROUPS_DUTY,
        GROUPS_MIN_GAP_S,
        Groups,
        threading_threads,
    )
except ImportError:  # imported as part of memgrowth (the recorder's side), not in a target
    from memgrowth.probes.python_agent.inject import _memgrowth_inspect as inspect
    from memgrowth.probes.python_agent.inject._memgrowth_groups import (
        CYCLES_GAP_S,
        GROUPS_DUTY,
        GROUPS_MIN_GAP_S,
        Groups,
        threading_threads,
    )

try:
    import _tracemalloc
except ImportError:  # pragma: no cover - CPython always has it
    _tracemalloc = None

FIRST_RUN_S = 1.0
SCAN_DUTY = 0.005  # container scans may use 0.5% of the time…
SCAN_MIN_GAP_S = 1.0  # …and run at most this often
SCAN_MAX_NODES = 30_000
# Levels of the walk: module → class or instance → instance → container (so
# `logging.root.manager.loggerDict` is reached); nested containers go one level further.
SCAN_MAX_DEPTH = 5
SCAN_MAX_INSTANCE_DEPTH = 3
SCAN_CHILDREN = 64  # entries looked at inside one container
TRACKED_MIN_LENGTH = 50
SENT_PER_SCAN = 30
MAX_TRACKED_PATHS = 2_000
WINDOW_S = 0.25
WINDOW_DUTY = 0.02  # tracemalloc windows may be open 2% of the time (the only heavy part)
WINDOW_FRAMES = 8
# A window closes early once tracemalloc holds this much: copying its traces out pauses the
# target, about 70 ms per MiB measured on a heap of a million objects (most of it turning
# each distinct traceback into tuples). Checked every 5 ms, this keeps it near 30 ms.
WINDOW_MAX_TRACE_MEMORY = 256 << 10
WINDOW_POLL_S = 0.005
SITES_PER_WINDOW = 12
JOINED_PER_WINDOW = 10  # growing containers whose newest entries are looked up
HEAP_WINDOW_S = 30.0
HEAP_GROWTH_SHARE = 0.01
HEAP_GROWTH_BLOCKS = 2_000
# Modules of the standard library that hold user objects in long-lived containers.
STDLIB_ROOTS = ("logging", "re", "linecache", "warnings", "copyreg", "functools")


_SCALARS = (int, float, str, bytes, bool, type(None), complex)


class Attribution:
    """Schedules and runs the attribution activities for one agent."""

    def __init__(self, agent) -> None:
        self.agent = agent
        now = time.monotonic()
        self.next_scan = now
        self.next_groups = now
        self.next_window = now
        self.next_cycles = now
        self.window_end: float | None = None
        self.window_started = self.window_check = now
        self.window_blocks = 0
        self.heap: list = []  # (monotonic time, allocated blocks)
        self.tracked: dict = {}  # path -> [first length, last length]
        self.sent: dict = {}  # path -> growth when last sent
        self.growers: list = []  # (path, container, base): held only while a window is open
        self.grouping = Groups(agent, self.is_user, self._pause)
        self.site_cache: dict = {}  # filename -> is user code

    # --- scheduling ------------------------------------------------------------------------

    def note_heap(self, now: float, blocks: int) -> None:
        self.heap.append((now, blocks))
        while self.heap and self.heap[0][0] < now - HEAP_WINDOW_S:
            del self.heap[0]

    def heap_growing(self) -> bool:
        """The heap's floor over the last third of the window sits above the first third's."""
        if len(self.heap) < 6:
            return False
        third = len(self.heap) // 3
        early = min(b for _, b in self.heap[:third])
        late = min(b for _, b in self.heap[-third:])
        return late - early > max(HEAP_GROWTH_SHARE * early, HEAP_GROWTH_BLOCKS)

    @property
    def window_open(self) -> bool:
        return self.window_end is not None

    def next_due(self) -> float:
        due = min(self.next_scan, self.next_groups)
        if self.window_end is not None:  # watched closely while open: it may close early
            due = min(due, self.window_end, self.window_check)
        return due

    def run(self, now: float) -> None:
        """Do whatever is due; every activity is guarded on its own."""
        if self.window_end is not None:
            self.window_check = now + WINDOW_POLL_S
            if now < self.window_end and \
                    _tracemalloc.get_tracemalloc_memory() <= WINDOW_MAX_TRACE_MEMORY:
                return  # nothing else while a window is open: it must close on time
            self._guarded(self.finish_window)
        if now >= self.next_groups:
            cost = self._guarded(self.grouping.report)
            self.next_groups = now + max(GROUPS_MIN_GAP_S, cost / GROUPS_DUTY)
            if not gc.isenabled() and now >= self.next_cycles:
                self._guarded(self.grouping.cycles)
                self.next_cycles = now + CYCLES_GAP_S
        if now >= self.next_scan:
            cost = self._guarded(self.scan)
            self.next_scan = now + max(SCAN_MIN_GAP_S, cost / SCAN_DUTY)
            if self.window_end is None and now >= self.next_window and (
                    self.growers or self.heap_growing()):
                self._guarded(self.start_window)
            if self.window_end is None:
                self.growers = []  # never hold the target's containers between scans

    def abandon(self) -> None:
        """Close an open window without reporting it (the agent stops, or this is a child
        fork that inherited the parent's tracing): tracemalloc must never stay on."""
        if self.window_end is not None:
            self.window_end = None
            self.growers = []
            if _tracemalloc is not None and _tracemalloc.is_tracing():
                _tracemalloc.stop()

    def _guarded(self, activity) -> float:
        """Run one activity; its CPU cost (without collections it happened to trigger)."""
        started = self.agent.work_time()
        try:
            activity()
        except Exception:
            pass
        return max(0.0, self.agent.work_time() - started)

    def _pause(self, started: float) -> None:
        # CPU time of this thread: a C call holding the GIL runs on it, start to end.
        self.agent.note_pause(self.agent.work_time() - started)

    def is_user(self, filename) -> bool:
        known = self.site_cache.get(filename)
        if known is None:
            known = type(filename) is str and inspect.is_user_file(filename)
            if len(self.site_cache) > 5_000:
                self.site_cache.clear()
            self.site_cache[filename] = known
        return known

    # --- containers and their holders ------------------------------------------------------

    def scan(self) -> None:
        """Walk from the roots to the containers; report the growing and the big ones."""
        started = time.perf_counter()
        found, nodes = self._walk()
        now = time.monotonic()
        items = []
        growth = {}  # since first seen
        gained = {}  # since the last scan
        by_path = {}
        for found_entry in found:
            path, size = found_entry[0], found_entry[3]
            entry = self.tracked.get(path)
            if entry is None:
                if len(self.tracked) >= MAX_TRACKED_PATHS:
                    continue
                entry = self.tracked[path] = [size, size]
            gained[path] = size - entry[1]
            entry[1] = size
            growth[path] = size - entry[0]
            by_path[path] = found_entry
        chosen: list = []
        growing = sorted((p for p in growth if growth[p] > 0), key=lambda p: -growth[p])
        biggest = sorted(by_path, key=lambda p: -by_path[p][3])
        previously = sorted((p for p in self.sent if p in by_path), key=lambda p: -growth[p])
        for path in growing[:12] + previously[:12] + biggest[:8]:
            if path not in chosen and len(chosen) < SENT_PER_SCAN:
                chosen.append(path)
        for path in chosen:
            _, obj, base, size, extra = by_path[path]
            self.sent[path] = growth[path]
            entry_bytes, item_type = _entry_figures(obj, base, size, extra)
            items.append([path[:300], extra.get("kind") or inspect.container_name(base), size,
                          entry_bytes, item_type, extra.get("maxsize")])
        # Containers that gained entries since the last scan: an allocation window looks
        # up where their newest entries were made.
        gaining = sorted((p for p in gained if gained[p] > 0), key=lambda p: -gained[p])
        self.growers = [(p, by_path[p][1], by_path[p][2]) for p in gaining[:JOINED_PER_WINDOW]]
        self.agent.send({"type": "containers", "pid": self.agent.pid, "mono": now,
                         "nodes": nodes, "scan_s": time.perf_counter() - started,
                         "items": items})

    def _walk(self) -> tuple[list, int]:
        seen: set = set()
        found: list = []
        level = self._roots(seen)
        nodes = 0
        lru = getattr(sys.modules.get("functools"), "_lru_cache_wrapper", None)
        for depth in range(1, SCAN_MAX_DEPTH + 1):
            following: list = []
            for path, obj, role, owner in level:
                nodes += 1
                if nodes > SCAN_MAX_NODES:
                    return found, nodes
                if role == "container":
                    base = inspect.container_base(type(obj))
                    size = inspect.length(obj, base)
                    if size >= TRACKED_MIN_LENGTH:
                        found.append((path, obj, base, size, {}))
                    entries = inspect.first_entries(obj, base, SCAN_CHILDREN)
                    children = [(path + label, value) for label, value in entries]
                    following.extend(self._classify(children, seen, depth, lru, None,
                                                    containers_only=True))
                elif role in ("lru", "lru_method"):
                    cache, newest = _lru_cache_parts(obj)
                    size = inspect.length(cache, dict) if cache is not None else 0
                    if size >= TRACKED_MIN_LENGTH:
                        kind = "lru_cache" if role == "lru" else "lru_cache_method"
                        # The newest results stand for the cache's entries.
                        found.append((path, newest, list, size,
                                      {"kind": kind, "maxsize": _lru_maxsize(obj, lru)}))
                elif role == "module":
                    namespace = inspect.module_namespace(obj)
                    children = [(f"{path}.{name}", value) for name, value in
                                list(namespace.items())
                                if type(name) is str and not name.startswith("__")]
                    following.extend(self._classify(children, seen, depth, lru, owner))
                elif role == "class":
                    children = [(f"{path}.{name}", value) for name, value in
                                inspect.class_dict(obj).items()
                                if type(name) is str and not name.startswith("__")]
                    following.extend(self._classify(children, seen, depth, lru, None,
                                                    in_class=True))
                elif role == "instance":
                    children = [(f"{path}.{name}", value)
                                for name, value in inspect.instance_attributes(obj)]
                    following.extend(self._classify(children, seen, depth, lru, None))
            level = following
        return found, nodes

    def _roots(self, seen: set) -> list:
        """Modules (a few of the standard library's, then the user's, then libraries') and the
        locals of other threads' frames, as the first level of the walk."""
        modules: dict = {"stdlib": [], "user": [], "library": []}
        for name, module in list(sys.modules.items()):
            if type(name) is not str or not inspect.is_subclass(type(module), inspect._MODULE_TYPE):
                continue
            kind = inspect.module_kind(inspect.module_namespace(module))
            if kind is None or (kind == "stdlib" and name not in STDLIB_ROOTS):
                continue
            modules[kind].append((name, module))
        level = []
        for kind in ("stdlib", "user", "library"):
            for name, module in sorted(modules[kind], key=lambda item: item[0]):
                if id(module) in seen:
                    continue
                seen.add(id(module))
                shown = "__main__" if name == "__mp_main__" else name
                level.append((shown, module, "module", name))
        level.extend(self._frame_locals(seen))
        return level

    def _frame_locals(self, seen: set) -> list:
        """Containers held by local variables of the user's frames in other threads."""
        own = _thread.get_ident()
        threads = threading_threads()
        level = []
        for ident, frame in list(sys._current_frames().items())[:64]:
            if ident == own:
                continue
            thread = threads.get(ident, (None,))[0] or f"thread {ident}"
            depth = 0
            while frame is not None and depth < 8:
                code = frame.f_code
                if self.is_user(code.co_filename) and code.co_name != "<module>":
                    try:
                        local_values = list(frame.f_locals.items())
                    except Exception:
                        local_values = []
                    for name, value in local_values:
                        if inspect.container_base(type(value)) is not None \
                                and id(value) not in seen:
                            seen.add(id(value))
                            level.append((f"thread {thread!r} {code.co_qualname}() local "
                                          f"{name!r}", value, "container", None))
                    depth += 1
                frame = frame.f_back
        return level

    def _classify(self, children: list, seen: set, depth: int, lru, module: str | None,
                  containers_only: bool = False, in_class: bool = False) -> list:
        """The children worth walking into, each with its role; first path wins."""
        out = []
        for path, value in children:
            kind = type(value)
            if id(value) in seen:
                continue
            role = None
            if inspect.container_base(kind) is not None:
                role = "container"
            elif containers_only:
                continue
            elif lru is not None and kind is lru:
                role = "lru_method" if in_class else "lru"
            elif inspect.is_subclass(kind, type):
                # A class belongs to the module that defines it, not to every importer.
                if module is not None and inspect.type_module(value) == module:
                    role = "class"
            elif depth < SCAN_MAX_INSTANCE_DEPTH and inspect.is_heap_type(kind) \
                    and not inspect.is_subclass(kind, inspect._MODULE_TYPE) \
                    and not inspect.is_shared(kind):
                role = "instance"
            if role is not None:
                seen.add(id(value))
                out.append((path, value, role, None))
        return out

    # --- allocation windows ----------------------------------------------------------------

    def start_window(self) -> None:
        if _tracemalloc is None or _tracemalloc.is_tracing():
            return  # the target traces for itself: leave its tracemalloc alone
        self.window_blocks = sys.getallocatedblocks()
        _tracemalloc.start(WINDOW_FRAMES)
        now = time.monotonic()
        self.window_started = now
        self.window_end = now + WINDOW_S
        self.window_check = now + WINDOW_POLL_S

    def finish_window(self) -> None:
        now = time.monotonic()
        self.window_end = None
        self.next_window = now + WINDOW_S / WINDOW_DUTY
        growers, self.growers = self.growers, []
        if not _tracemalloc.is_tracing():
            return  # stopped by the target meanwhile
        window_s = now - self.window_started
        heap_delta = sys.getallocatedblocks() - self.window_blocks
        try:
            joins = self._joins(growers)
            started = self.agent.work_time()
            traces = _tracemalloc._get_traces()
            self._pause(started)
        finally:
            started = self.agent.work_time()
            _tracemalloc.stop()
            self._pause(started)
        del growers
        sites: dict = {}
        total_bytes = total_blocks = 0
        for _, size, frames, _ in traces:
            where = self._where(frames)
            if where is None:
                continue  # the agent's own allocations
            total_bytes += size
            total_blocks += 1
            site = sites.get(where)
            if site is None:
                sites[where] = [size, 1, frames]
            else:
                site[0] += size
                site[1] += 1
        del traces
        ranked = sorted(sites.items(), key=lambda item: -item[1][0])[:SITES_PER_WINDOW]
        self.agent.send({
            "type": "sites", "pid": self.agent.pid, "mono": now, "window_s": window_s,
            "bytes": total_bytes, "blocks": total_blocks, "heap_delta": heap_delta,
            "sites": [[where[0][:500], where[1], size, blocks,
                       [[f[:500], line] for f, line in frames]]
                      for where, (size, blocks, frames) in ranked],
            "joins": joins,
        })

    def _where(self, frames):
        """The first frame in the user's code (frames come most recent first)."""
        if not frames:
            return None
        for filename, _ in frames:
            if type(filename) is str and filename.startswith(inspect._AGENT_DIR):
                return None
        for filename, line in frames:
            if self.is_user(filename):
                return (filename, line)
        return frames[0]

    def _joins(self, growers: list) -> list:
        """For each growing container, the user line that allocated its newest entries."""
        joins = []
        for path, obj, base in growers:
            for item in inspect.last_items(obj, base, 3):
                # The entry itself; else what it holds (not scalars, often shared or cached).
                inner = [o for o in _inner(item) if not any(type(o) is s for s in _SCALARS)]
                for candidate in (item, *inner):
                    frames = inspect.object_traceback(candidate, _tracemalloc)
                    where = self._where(frames) if frames else None
                    if where is not None:
                        joins.append([path[:300], where[0][:500], where[1],
                                      [[f[:500], line] for f, line in frames]])
                        break
                else:
                    continue
                break
        return joins

def _entry_figures(obj, base, size: int, extra: dict) -> tuple[int | None, str | None]:
    """Bytes one entry keeps (the newest few, measured) and the type of what it holds."""
    items = inspect.last_items(obj, base, 3)
    if not items:
        return None, None
    sizes = []
    kinds: dict = {}
    for value in items:
        sizes.append(inspect.retained_size(value))
        name = inspect.type_name(type(value))
        kinds[name] = kinds.get(name, 0) + 1
    sizes.sort()
    # The container's own table, spread over its entries (an lru_cache's dict is not at
    # hand: its newest results stand in for it, and its table is left out).
    lru = extra.get("kind", "").startswith("lru_cache")
    own = inspect.shallow_size(obj) // size if size and not lru else 0
    item_type = max(kinds.items(), key=lambda item: item[1])[0]
    return sizes[len(sizes) // 2] + own, item_type


def _inner(obj) -> list:
    try:
        return [o for o in gc.get_referents(obj) if not inspect.is_shared(type(o))]
    except Exception:
        return []


def _lru_cache_parts(wrapper) -> tuple[dict | None, list]:
    """The cache dict of a functools.lru_cache wrapper and its newest few results.

    The wrapper's traversal lists, in order: its type, then key and result of every entry
    from the oldest to the newest (bounded caches), then the cache dict, the wrapped
    function and four more. The cache is the object just before the wrapped function.
    """
    try:
        referents = gc.get_referents(wrapper)
        wrapped = wrapper.__wrapped__  # the wrapper's own __dict__: C, no user code
    except Exception:
        return None, []
    index = next((i for i, item in enumerate(referents) if item is wrapped), None)
    if index is None or index < 2 or type(referents[index - 1]) is not dict:
        return None, []
    cache = referents[index - 1]
    pairs = referents[1:index - 1]
    # Results sit after their keys, the newest last; with maxsize=None there are no pairs
    # and the cache maps keys straight to results.
    newest = pairs[-1::-2][:3] if pairs else inspect.last_items(cache, dict, 3)
    return cache, newest


def _lru_maxsize(wrapper, lru) -> int | None:
    try:
        maxsize = lru.cache_info(wrapper).maxsize  # C, and the standard library's namedtuple
    except Exception:
        return None
    return maxsize if type(maxsize) is int else None
