"""memgrowth's in-target agent: measures the Python runtime and reports over a Unix socket.

Rules it lives by, because it runs inside somebody else's program:
- never raise into user code, never block it: datagrams are sent non-blocking and dropped
  when the recorder is slow or gone;
- call no user code: no repr, eq, hash or len of user objects;
- stay cheap: one daemon thread wakes at the sampling interval; the GC hook appends a tuple;
  the object census is timed and run only while its cost stays inside its budget;
- survive fork: the child gets its own socket and thread.

This module must not import memgrowth (it is loaded into arbitrary programs) and depends only
on the standard library. It even avoids the heavier standard modules (socket, threading,
json pull in enum and re): it is imported at the start of every Python process of the tree,
and start-up time is what short-lived processes feel.
"""

from __future__ import annotations

import _socket
import _thread
import gc
import os
import sys
import time

ENV_DIR = "MEMGROWTH_AGENT_DIR"
ENV_INTERVAL = "MEMGROWTH_AGENT_INTERVAL"
RECORDER_SOCKET = "recorder.sock"
BASELINE_REQUEST = b"baseline"
MAX_DATAGRAM = 60_000  # well under the default Unix datagram limit
MAX_PENDING_GC_EVENTS = 100_000
CENSUS_DUTY = 0.0025  # the object census may use at most 0.25% of wall time…
CENSUS_MAX_PAUSE_S = 0.02  # …and is skipped once one census would pause the target this long
POST_GC_MIN_COLLECTED = 1000  # collections freeing this many objects also count the heap
SETTLE_S = 0.2
HISTOGRAM_DUTY = 0.005  # promotion histograms may use at most 0.5% of wall time
HISTOGRAM_MAX_OBJECTS = 20_000  # and look at no more objects than this each time
MAX_FAILED_TICKS = 10
MALLINFO_DUTY = 0.001  # mallinfo2 may use at most 0.1% of wall time
TOP_TYPES = 25  # short-lived processes never pay for the census or for loading ctypes

_agent = None


class _Agent:
    def __init__(self, directory: str, interval: float | None) -> None:
        self.directory = directory
        self.fixed_interval = interval
        self.started = time.monotonic()
        self.pid = os.getpid()
        self.gc_events: list = []
        self.gc_dropped = 0
        self.gc_started = 0.0
        self.census_cost = 0.0
        self.census_at = 0.0
        self.census_blocks = 0
        self.mallinfo = None
        self.mallinfo_next = 0.0  # monotonic time before which mallinfo2 waits
        self.sock = None
        self.address = None
        self.stopped = False
        self.agent_cpu = 0.0  # CPU seconds of the agent's own thread
        self.forked_from: int | None = None  # the parent's pid, in a child made by fork
        self.seq = 0
        # One dict per promotion histogram (type -> objects about to be promoted), since the
        # last tick; the GC hook appends, the agent thread swaps the list and reads.
        self.histogram_batches: list = []
        self.histogram_next = 0.0

    # --- lifecycle -------------------------------------------------------------------------

    def open(self) -> None:
        self.pid = os.getpid()
        self.address = os.path.join(self.directory, f"agent-{self.pid}.sock")
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
        try:
            os.unlink(self.address)
        except OSError:
            pass
        sock.bind(self.address)
        os.chmod(self.address, 0o600)
        self.sock = sock
        # A bare thread: daemon-like, invisible to threading's bookkeeping and to the
        # target's thread counts, and needs no import of threading.
        _thread.start_new_thread(self._loop, ())

    def after_fork_in_child(self) -> None:
        # The parent's socket and thread are the parent's: start afresh under the new pid.
        old = self.sock
        self.sock = None
        if old is not None:
            try:
                old.close()
            except OSError:
                pass
        self.gc_events = []
        self.gc_dropped = 0
        self.census_at = 0.0
        self.seq = 0
        self.histogram_batches = []
        self.forked_from = self.pid
        self.open()

    def close(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        try:
            self.flush_gc_events()
            self.send({"type": "bye", **self.sample(at_exit=True)})
        except Exception:
            pass
        try:
            if self.sock is not None:
                self.sock.close()
            if self.address and self.pid == os.getpid():
                os.unlink(self.address)
        except OSError:
            pass

    # --- channel ---------------------------------------------------------------------------

    def send(self, message: dict, to: str | None = None) -> None:
        sock = self.sock
        if sock is None:
            return
        if to is None:  # numbered, so the recorder can count datagrams dropped on the way
            self.seq += 1
            message = {**message, "seq": self.seq}
        json = sys.modules.get("json")  # the C encoder is 5x faster: use it once it is loaded
        text = json.dumps(message, separators=(",", ":")) if json else encode(message)
        data = text.encode("utf-8", "replace")
        try:
            sock.sendto(data, _socket.MSG_DONTWAIT, to or os.path.join(self.directory,
                                                                        RECORDER_SOCKET))
        except OSError:
            pass  # recorder slow or gone: drop, never block the target

    def send_hello(self) -> None:
        self.send({
            "type": "hello", "pid": self.pid, "ppid": os.getppid(), "mono": time.monotonic(),
            "argv": list(getattr(sys, "orig_argv", sys.argv))[:64],
            "executable": sys.executable, "version": sys.version.split()[0],
            "implementation": sys.implementation.name, "forked_from": self.forked_from,
        })

    # --- measuring -------------------------------------------------------------------------

    def on_gc(self, phase: str, info: dict) -> None:
        try:
            if phase == "start":
                if info["generation"] == 1:
                    self._promotion_histogram()
                self.gc_started = time.perf_counter()
                return
            events = self.gc_events
            if len(events) >= MAX_PENDING_GC_EVENTS:
                self.gc_dropped += 1
                return
            collected = info["collected"]
            # The heap right after a collection that freed a lot is the post-GC floor; a
            # block count costs microseconds, small beside such a collection.
            heap_after = sys.getallocatedblocks() if collected >= POST_GC_MIN_COLLECTED else None
            events.append((time.monotonic(), info["generation"],
                           time.perf_counter() - self.gc_started,
                           collected, info["uncollectable"], heap_after))
        except Exception:
            pass

    def _promotion_histogram(self) -> None:
        """Count by type the objects a generation-1 collection is about to promote.

        They outlived a young collection: what accumulates shows up here first, at a
        fraction of the cost of a census. Taken only while its cost stays under its budget.
        """
        started = time.perf_counter()
        if started < self.histogram_next:
            return
        counts: dict = {}  # built here, handed over whole: the agent thread never sees it change
        young = gc.get_objects(generation=1)
        # Generation 1 is usually a few thousand objects, but it can swell to hundreds of
        # thousands while full collections are deferred: then count a regular sample of it.
        step = max(1, len(young) // HISTOGRAM_MAX_OBJECTS)
        for obj in young[::step]:
            kind = type(obj)
            counts[kind] = counts.get(kind, 0) + step
        del young
        self.histogram_batches.append(counts)
        cost = time.perf_counter() - started
        self.histogram_next = started + cost / HISTOGRAM_DUTY

    def flush_types(self) -> None:
        batches, self.histogram_batches = self.histogram_batches, []
        if not batches:
            return
        promoted: dict = {}
        for counts in batches:
            for kind, count in counts.items():
                promoted[kind] = promoted.get(kind, 0) + count
        histograms = len(batches)
        top = sorted(promoted.items(), key=lambda item: -item[1])[:TOP_TYPES]
        self.send({"type": "types", "pid": self.pid, "mono": time.monotonic(),
                   "histograms": histograms,
                   "counts": [[_type_name(kind), count] for kind, count in top]})

    def flush_gc_events(self) -> None:
        events, self.gc_events = self.gc_events, []
        dropped, self.gc_dropped = self.gc_dropped, 0
        step = MAX_DATAGRAM // 80  # an event is under 80 bytes of JSON
        for start in range(0, max(len(events), 1 if dropped else 0), step):
            chunk = [[round(e[0], 6), e[1], round(e[2], 7), e[3], e[4], e[5]]
                     for e in events[start:start + step]]
            self.send({"type": "gc", "pid": self.pid, "events": chunk,
                       "dropped": dropped if start == 0 else 0})

    def sample(self, at_exit: bool = False) -> dict:
        now = time.monotonic()
        stats = gc.get_stats()
        threshold = gc.get_threshold()
        count = gc.get_count()
        blocks = sys.getallocatedblocks()
        sample = {
            "pid": self.pid, "mono": now, "allocated_blocks": blocks,
            "gc_enabled": int(gc.isenabled()),
            "gc_threshold0": threshold[0], "gc_threshold1": threshold[1],
            "gc_threshold2": threshold[2],
            "gc_count0": count[0], "gc_count1": count[1], "gc_count2": count[2],
            "gc_collections0": stats[0]["collections"],
            "gc_collections1": stats[1]["collections"],
            "gc_collections2": stats[2]["collections"],
            "gc_collected": sum(s["collected"] for s in stats),
            "gc_uncollectable": sum(s["uncollectable"] for s in stats),
            "threads": _python_threads(),
            "asyncio_tasks": _asyncio_pending_tasks(),
            "agent_cpu_s": self.agent_cpu,
        }
        settled = not at_exit and now - self.started >= SETTLE_S
        if settled:
            sample["gc_objects"] = self._census(now, blocks)
        if settled or self.mallinfo:  # never load ctypes on the way out
            sample.update(self._malloc_figures())
        return sample

    def _census(self, now: float, blocks: int) -> int | None:
        """Count GC-tracked objects while the census stays inside its time budget."""
        # Cost grows with the heap: scale the last cost by the growth in allocated blocks.
        expected = self.census_cost * (blocks / self.census_blocks if self.census_blocks else 1)
        if expected > CENSUS_MAX_PAUSE_S:
            return None
        if self.census_at and (now - self.census_at) * CENSUS_DUTY < expected:
            return None
        # CPU time of this thread: the work done, not time lost to preemption.
        started = time.thread_time()
        objects = len(gc.get_objects())
        self.census_cost = time.thread_time() - started
        self.census_at, self.census_blocks = now, blocks
        return objects

    def _malloc_figures(self, force: bool = False) -> dict:
        if self.mallinfo is None:
            self.mallinfo = _load_mallinfo2() or False
        now = time.monotonic()
        if not self.mallinfo or (now < self.mallinfo_next and not force):
            return {}
        started = time.thread_time()
        info = self.mallinfo()
        # mallinfo2 walks malloc's free lists, slower on a fragmented heap: it is spaced out
        # to stay under its share of wall time. Its cost is CPU time, so that a preemption
        # in the middle does not count.
        self.mallinfo_next = now + (time.thread_time() - started) / MALLINFO_DUTY
        return {"malloc_in_use": info.uordblks + info.hblkhd, "malloc_free": info.fordblks,
                "malloc_mmap": info.hblkhd}

    def baseline(self) -> dict:
        """The snapshot's Python figures, on request: includes a full object count."""
        started = time.perf_counter()
        objects = len(gc.get_objects())
        census_s = time.perf_counter() - started
        figures = self.sample()
        figures.update(self._malloc_figures(force=True))
        figures.update({
            "gc_objects": objects, "census_s": census_s,
            "gc_stats": gc.get_stats(), "version": sys.version.split()[0],
            "argv": list(getattr(sys, "orig_argv", sys.argv))[:64],
        })
        return figures

    # --- the thread ------------------------------------------------------------------------

    def interval(self) -> float:
        if self.fixed_interval:
            return self.fixed_interval
        # Dense at the start, where baselines and warm-ups live; never slower than 1 s.
        return min(1.0, 0.05 + (time.monotonic() - self.started) / 20.0)

    def _loop(self) -> None:
        sock = self.sock
        try:
            self.send_hello()
            # The first sample waits one interval: start-up belongs to the target.
            next_at = time.monotonic() + self.interval()
            failures = 0
            while not self.stopped and sock is self.sock and failures < MAX_FAILED_TICKS:
                timeout = next_at - time.monotonic()
                if timeout > 0:
                    self._serve(sock, timeout)
                    continue
                try:
                    self.flush_gc_events()
                    self.flush_types()
                    self.send({"type": "sample", **self.sample()})
                    failures = 0
                except Exception:
                    failures += 1  # one bad tick is skipped; a run of them stops the agent
                self.agent_cpu = time.thread_time()
                next_at = time.monotonic() + self.interval()
        except Exception:
            pass  # the agent dies quietly; the target lives on

    def _serve(self, sock, timeout: float) -> None:
        """Wait for the next tick, answering baseline requests meanwhile."""
        sock.settimeout(timeout)
        try:
            data, sender = sock.recvfrom(4096)
        except (TimeoutError, BlockingIOError, InterruptedError):
            return
        except OSError:
            time.sleep(timeout)
            return
        if data == BASELINE_REQUEST and sender:
            self.send({"type": "baseline", **self.baseline()}, to=sender)


def encode(value) -> str:
    """JSON for the agent's plain messages (dicts, lists, strings, numbers, None)."""
    if value is None or value is True or value is False:
        return "null" if value is None else ("true" if value else "false")
    if isinstance(value, (int, float)):
        return repr(value) if value == value and abs(value) != float("inf") else "null"
    if isinstance(value, str):
        return '"' + value.translate(_ESCAPES) + '"'
    if isinstance(value, dict):
        return "{" + ",".join(encode(str(k)) + ":" + encode(v) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(encode(v) for v in value) + "]"
    return encode(str(value))


_ESCAPES = {i: f"\\u{i:04x}" for i in range(32)}
_ESCAPES.update({ord('"'): '\\"', ord("\\"): "\\\\"})


_TYPE_NAME = type.__dict__["__qualname__"]
_TYPE_MODULE = type.__dict__["__module__"]


def _type_name(kind: type) -> str:
    """`module.Qualname` read straight from the type: a metaclass property is never called."""
    try:
        name = _TYPE_NAME.__get__(kind, type)
        module = _TYPE_MODULE.__get__(kind, type)
    except Exception:
        return "?"
    if not isinstance(name, str):
        return "?"
    return name if module in ("builtins", None) or not isinstance(module, str) \
        else f"{module}.{name}"


def _python_threads() -> int:
    threading = sys.modules.get("threading")
    # The agent's own thread is a bare one, so threading does not count it.
    return threading.active_count() if threading is not None else 1


def _asyncio_pending_tasks() -> int | None:
    tasks_module = sys.modules.get("asyncio.tasks")
    if tasks_module is None:
        return None  # never import asyncio into a program that does not use it
    pools = [getattr(tasks_module, name, None)
             for name in ("_all_tasks", "_scheduled_tasks", "_eager_tasks")]
    pending = 0
    for pool in pools:
        if pool is None:
            continue
        for _ in range(3):  # the loop thread may change the set while we copy it
            try:
                snapshot = list(pool)
                break
            except RuntimeError:
                continue
        else:
            return None
        pending += sum(1 for task in snapshot if not task.done())
    return pending


def _load_mallinfo2():
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        function = libc.mallinfo2
    except (OSError, AttributeError, ImportError):
        return None

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]

    function.restype = MallInfo2
    function.argtypes = []
    return function


def start() -> None:
    """Start the agent if memgrowth asked for it (called from sitecustomize)."""
    global _agent
    directory = os.environ.get(ENV_DIR)
    if _agent is not None or not directory or not os.path.isdir(directory):
        return
    try:
        interval = float(os.environ.get(ENV_INTERVAL) or 0) or None
    except ValueError:
        interval = None
    agent = _Agent(directory, interval)
    agent.open()
    _agent = agent
    gc.callbacks.append(agent.on_gc)
    os.register_at_fork(after_in_child=_after_fork_in_child)
    import atexit  # a built-in module: no import cost

    atexit.register(agent.close)


def _after_fork_in_child() -> None:
    try:
        if _agent is not None and not _agent.stopped:
            _agent.after_fork_in_child()
    except Exception:
        pass
