"""The agent's thread and task groups, and the cycles piling up while gc is disabled.

Part of the agent's attribution (`_memgrowth_attribution.Attribution` runs them on the
agent's thread, spaced to their share of time): threads grouped by name pattern, the line
that started them (a wrapped `Thread.start`) and the line they block on; pending asyncio
tasks by coroutine, the line they await and the line that made them (a wrapped
`BaseEventLoop.create_task`); while `gc` is off, the types in generation 0 and whether they
sit in reference cycles. Objects are read through `_memgrowth_inspect` only: no user code
runs.
"""

from __future__ import annotations

import _thread
import gc
import os
import sys
import time

try:
    import _memgrowth_inspect as inspect
except ImportError:  # imported as part of memgrowth (the recorder's side), not in a target
    from memgrowth.probes.python_agent.inject import _memgrowth_inspect as inspect

GROUPS_DUTY = 0.005
GROUPS_MIN_GAP_S = 2.0
GROUPS_MIN_THREADS = 4
GROUPS_MIN_TASKS = 10
GROUPS_MAX_TASKS = 2_000  # tasks looked at per report (a regular sample beyond)
GROUPS_SENT = 12
CYCLES_GAP_S = 5.0
CYCLES_MAX_GEN0 = 400_000  # copying generation 0 pauses the target: bounded
CYCLES_SAMPLE = 2_000


async def _probe() -> None:
    pass


_coroutine = _probe()
_COROUTINE = type(_coroutine)
_coroutine.close()
_GENERATOR = type(x for x in ())


class Groups:
    """Thread and task groups and cycle reports for one agent."""

    def __init__(self, agent, is_user, pause) -> None:
        self.agent = agent
        self.is_user = is_user  # filename -> whether it is the user's code
        self._pause = pause  # notes how long a C call held the target
        self.thread_sites: dict = {}  # thread ident -> [file, line, function] of its start()
        self.threads_watched = False
        self.task_sites = None  # task -> [file, line, function] of its creation

    # --- threads and tasks -----------------------------------------------------------------

    def report(self) -> None:
        threading = sys.modules.get("threading")
        if threading is not None and not self.threads_watched:
            self.threads_watched = True
            _record_thread_starts(threading, self.thread_sites)
        base_events = sys.modules.get("asyncio.base_events")
        if base_events is not None and self.task_sites is None:
            import weakref

            self.task_sites = weakref.WeakKeyDictionary()
            _record_task_creation(base_events, self.task_sites)
        threads = self._thread_groups()
        tasks = self._task_groups()
        if threads is not None or tasks is not None:
            self.agent.send({"type": "groups", "pid": self.agent.pid, "mono": time.monotonic(),
                             "threads": threads or [], "tasks": tasks or []})

    def _thread_groups(self) -> list | None:
        frames = sys._current_frames()
        if len(frames) < GROUPS_MIN_THREADS:
            return None
        own = _thread.get_ident()
        threads = threading_threads()
        for ident in [i for i in self.thread_sites if i not in frames]:
            del self.thread_sites[ident]
        groups: dict = {}
        for ident, frame in frames.items():
            if ident == own:
                continue
            name, target = threads.get(ident, (None, None))
            name = _name_pattern(name or "(not a threading.Thread)")
            started = self.thread_sites.get(ident) or target
            innermost = inspect.frame_site(frame)
            blocked = innermost
            probe = frame
            while probe is not None:
                if self.is_user(probe.f_code.co_filename):
                    blocked = inspect.frame_site(probe)
                    break
                probe = probe.f_back
            key = (name, tuple(started or ()), tuple(blocked))
            group = groups.get(key)
            if group is None:
                groups[key] = [name, 1, started, blocked, innermost]
            else:
                group[1] += 1
        return sorted(groups.values(), key=lambda g: -g[1])[:GROUPS_SENT]

    def _task_groups(self) -> list | None:
        pending = inspect.pending_tasks()
        if pending is None:
            return None
        if len(pending) < GROUPS_MIN_TASKS:
            return None
        step = max(1, len(pending) // GROUPS_MAX_TASKS)
        groups: dict = {}
        for task in pending[::step]:
            try:
                coro = task.get_coro()
            except Exception:
                continue
            name, defined, awaiting = _coroutine_sites(coro, self.is_user)
            created = self._created(task)
            key = (name, tuple(defined or ()), tuple(awaiting or ()), tuple(created or ()))
            group = groups.get(key)
            if group is None:
                groups[key] = [name, step, defined, awaiting, created]
            else:
                group[1] += step
        return sorted(groups.values(), key=lambda g: -g[1])[:GROUPS_SENT]

    def _created(self, task) -> list | None:
        """Where the task was made: noted by the create_task wrapper, else (tasks made before
        it, in asyncio debug mode) from the task's source traceback."""
        try:
            site = self.task_sites.get(task) if self.task_sites is not None else None
            if site is not None:
                return site
            stack = task._source_traceback
        except Exception:
            return None
        if not stack:
            return None
        for frame in reversed(list(stack)[-20:]):
            try:
                if self.is_user(frame.filename):
                    return [frame.filename, frame.lineno, frame.name]
            except Exception:
                return None
        return None

    # --- cycles while gc is disabled -------------------------------------------------------

    def cycles(self) -> None:
        pending = gc.get_count()[0]
        if pending > CYCLES_MAX_GEN0:
            return
        started = self.agent.work_time()
        young = gc.get_objects(generation=0)
        self._pause(started)
        total = len(young)
        step = max(1, total // CYCLES_SAMPLE)
        sample = young[::step]
        del young
        counts: dict = {}
        for obj in sample:
            kind = type(obj)
            entry = counts.get(id(kind))
            if entry is None:
                counts[id(kind)] = [kind, 1]
            else:
                entry[1] += 1
        ranked = sorted(counts.values(), key=lambda e: -e[1])[:8]
        types = []
        for kind, count in ranked:
            examples = [o for o in sample if type(o) is kind][:10]
            in_cycles = sum(1 for o in examples if _in_cycle(o))
            types.append([inspect.type_name(kind), count * step,
                          in_cycles / len(examples) if examples else 0.0])
        del sample, counts, ranked
        self.agent.send({"type": "cycles", "pid": self.agent.pid, "mono": time.monotonic(),
                         "gen0": total, "types": types})


def _in_cycle(obj, budget: int = 200) -> bool:
    """Whether obj reaches itself through references within a few steps."""
    seen = set()
    frontier = [obj]
    for _ in range(4):
        following = []
        for item in frontier:
            try:
                referents = inspect.own_referents(item)
            except Exception:
                continue
            for child in referents:
                if child is obj:
                    return True
                if child is None or id(child) in seen or inspect.is_shared(type(child)):
                    continue
                seen.add(id(child))
                following.append(child)
                if len(seen) > budget:
                    return False
        frontier = following
    return False


def threading_threads() -> dict:
    """ident -> (name, where its target function is defined) for the threading module's
    threads, read without calling their code."""
    threading = sys.modules.get("threading")
    active = inspect.module_namespace(threading).get("_active") if threading else None
    found = {}
    if type(active) is dict:
        for ident, thread in list(active.items()):
            attributes = dict(inspect.instance_attributes(thread))
            name = attributes.get("_name")
            code = inspect.function_code(attributes.get("_target"))
            found[ident] = (
                name[:200] if type(name) is str else None,
                [code.co_filename, code.co_firstlineno, code.co_qualname + " (target)"]
                if code is not None else None)
    return found


def _wrap_method(cls, name: str, note) -> None:
    """Replace cls.name by a wrapper that calls the original, then note(self, result, caller
    frame); the note's errors are swallowed, the original's pass through untouched."""
    original = inspect.class_dict(cls).get(name)
    if original is None or getattr(original, "_memgrowth", False):
        return

    def wrapper(self, *args, **kwargs):
        caller = sys._getframe(1)
        result = original(self, *args, **kwargs)
        try:
            note(self, result, caller)
        except Exception:
            pass
        return result

    wrapper._memgrowth = True
    wrapper.__wrapped__ = original
    for attribute in ("__name__", "__qualname__", "__doc__"):
        setattr(wrapper, attribute, getattr(original, attribute, None))
    setattr(cls, name, wrapper)


def _record_thread_starts(threading, sites: dict) -> None:
    """Note the line that starts each thread (threading.Thread.start)."""
    thread_class = inspect.module_namespace(threading).get("Thread")
    ident_of = inspect.class_dict(thread_class).get("ident") if thread_class else None
    if ident_of is not None:
        _wrap_method(thread_class, "start", lambda thread, _, caller: sites.__setitem__(
            ident_of.__get__(thread), inspect.frame_site(caller)))


def _record_task_creation(base_events, sites) -> None:
    """Note the line outside asyncio that creates each task (BaseEventLoop.create_task, which
    asyncio.create_task and ensure_future call)."""
    loop_class = inspect.module_namespace(base_events).get("BaseEventLoop")
    package = os.path.dirname(getattr(base_events, "__file__", "") or "") + os.sep
    if loop_class is None or package == os.sep:
        return

    def note(_, task, caller) -> None:
        while caller is not None and caller.f_code.co_filename.startswith(package):
            caller = caller.f_back
        if caller is not None:
            sites[task] = inspect.frame_site(caller)

    _wrap_method(loop_class, "create_task", note)


def _name_pattern(name: str) -> str:
    """'request-17' -> 'request-N': threads made by one loop share a pattern."""
    out = []
    for char in name:
        if char.isdigit():
            if not out or out[-1] != "N":
                out.append("N")
        else:
            out.append(char)
    return "".join(out)


def _coroutine_sites(coro, is_user) -> tuple[str, list | None, list | None]:
    """The coroutine's name and definition, and the line its innermost frame waits on."""
    code = getattr(coro, "cr_code", None) if type(coro) is _COROUTINE else None
    if code is None:
        return inspect.type_name(type(coro)), None, None
    defined = [code.co_filename, code.co_firstlineno, code.co_qualname]
    awaiting = None
    current = coro
    for _ in range(30):
        if type(current) is _COROUTINE:
            frame, following = current.cr_frame, current.cr_await
        elif type(current) is _GENERATOR:
            frame, following = current.gi_frame, current.gi_yieldfrom
        else:
            break
        if frame is None:
            break
        if awaiting is None or is_user(frame.f_code.co_filename):
            awaiting = inspect.frame_site(frame)
        current = following
    return code.co_qualname, defined, awaiting
