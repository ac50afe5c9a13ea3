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

# The object-inspection helpers are loaded by the agent's thread at its first tick, so that a
# process that ends sooner never pays for them (see _load_inspect).
inspect = None

ENV_DIR = "MEMGROWTH_AGENT_DIR"
ENV_INTERVAL = "MEMGROWTH_AGENT_INTERVAL"
RECORDER_SOCKET = "recorder.sock"
BASELINE_REQUEST = b"baseline"
MAX_DATAGRAM = 60_000  # well under the default Unix datagram limit
MAX_PENDING_GC_EVENTS = 100_000
CENSUS_DUTY = 0.0025  # the object census may use at most 0.25% of wall time…
CENSUS_MAX_PAUSE_S = 0.02  # …and is skipped once one census would pause the target this long
CENSUS_SAFETY = 3.0
POST_GC_MIN_COLLECTED = 1000  # collections freeing this many objects also count the heap
SETTLE_S = 0.2
HISTOGRAM_DUTY = 0.005  # promotion histograms may use at most 0.5% of wall time
HISTOGRAM_MAX_OBJECTS = 10_000  # and look at no more objects than this each time (~12 ms)
# Listing generation 1 walks every object in it: on a churning heap (allocations balanced by
# frees, so young collections are rare) it can hold 100,000s of scattered objects and take
# 50 ms or more. After a histogram that slow, the next waits at least a minute.
HISTOGRAM_SLOW_S = 0.025
HISTOGRAM_SLOW_BACKOFF_S = 60.0
MAX_FAILED_TICKS = 10
MALLINFO_DUTY = 0.001  # mallinfo2 may use at most 0.1% of wall time
TOP_TYPES = 25
ATTRIBUTION_AFTER_S = 1.0  # short-lived processes never pay for attribution or for ctypes
CENSUS_TYPES_MAX_OBJECTS = 500_000  # beyond this, types come from promotion histograms only

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
        self.thread_ident = None
        # Collections that happen to run on the agent's thread (its allocations tipped the
        # count over): the target's garbage, not the agent's work, so budgets leave them out.
        self.gc_on_agent_thread = 0.0
        self.gc_thread_started = 0.0
        self.census_cost = 0.0
        self.census_pause = 0.0
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
        self.max_pause = 0.0  # the longest the agent held the target up, in seconds
        self.attribution = None

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
        if self.attribution is not None:
            self.attribution.abandon()  # a window open in the parent is the parent's
        self.attribution = None
        self.max_pause = 0.0
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
        # The C encoder is 5x faster: use it once the target has loaded json. The target may
        # be importing it right now (a half-initialized module in sys.modules): then ours.
        dumps = getattr(sys.modules.get("json"), "dumps", None)
        try:
            text = dumps(message, separators=(",", ":")) if dumps else encode(message)
        except Exception:
            text = encode(message)
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
                attribution = self.attribution
                # Not while a tracemalloc window is open: everything is slower under it.
                if info["generation"] == 1 and not (attribution and attribution.window_open):
                    self._promotion_histogram()
                self.gc_started = time.perf_counter()
                if _thread.get_ident() == self.thread_ident:
                    self.gc_thread_started = time.thread_time()
                return
            if _thread.get_ident() == self.thread_ident:
                self.gc_on_agent_thread += time.thread_time() - self.gc_thread_started
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
        cpu_started = self.work_time()
        # Built here, handed over whole: the agent thread never sees it change. Keyed by the
        # type's id: hashing a type could run a metaclass's __hash__.
        counts: dict = {}
        young = gc.get_objects(generation=1)
        # Generation 1 is usually a few thousand objects, but it can swell to hundreds of
        # thousands while full collections are deferred: then count a regular sample of it.
        step = max(1, len(young) // HISTOGRAM_MAX_OBJECTS)
        # Sizes once the agent's helpers are loaded (its first tick); counts from the start.
        size_of = inspect.shallow_size if inspect is not None else _unknown_size
        for obj in young[::step]:
            kind = type(obj)
            entry = counts.get(id(kind))
            if entry is None:
                counts[id(kind)] = [kind, step, size_of(obj) * step]
            else:
                entry[1] += step
                entry[2] += size_of(obj) * step
        del young
        self.histogram_batches.append(counts)
        cost = self.work_time() - cpu_started
        self.note_pause(cost)  # it runs in the collecting thread: that thread waits
        backoff = HISTOGRAM_SLOW_BACKOFF_S if cost > HISTOGRAM_SLOW_S else 0.0
        self.histogram_next = started + max(cost / HISTOGRAM_DUTY, backoff)

    def work_time(self) -> float:
        """This thread's CPU time without the collections that ran on it: on the agent's
        thread those are the target's garbage (the agent's allocations only tipped the
        count over), so neither budgets nor pauses count them."""
        if _thread.get_ident() == self.thread_ident:
            return time.thread_time() - self.gc_on_agent_thread
        return time.thread_time()

    def note_pause(self, seconds: float) -> None:
        if seconds > self.max_pause:
            self.max_pause = seconds


    def flush_types(self) -> None:
        batches, self.histogram_batches = self.histogram_batches, []
        if not batches:
            return
        promoted: dict = {}
        for counts in batches:
            for key, (kind, count, size) in counts.items():
                entry = promoted.get(key)
                if entry is None:
                    promoted[key] = [kind, count, size]
                else:
                    entry[1] += count
                    entry[2] = entry[2] + size if size >= 0 and entry[2] >= 0 else -1
        histograms = len(batches)
        top = sorted(promoted.values(), key=lambda entry: -entry[1])[:TOP_TYPES]
        self.send({"type": "types", "pid": self.pid, "mono": time.monotonic(),
                   "histograms": histograms,
                   "counts": [[inspect.type_name(kind), count, size if size >= 0 else None]
                              for kind, count, size in top]})

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
        if not at_exit:  # a process that ends before its first tick never loads it
            _load_inspect()
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
            "agent_max_pause_s": self.max_pause,
        }
        settled = not at_exit and now - self.started >= SETTLE_S
        # No census while an allocation window is open: the window must close on time.
        if settled and not (self.attribution and self.attribution.window_open):
            sample["gc_objects"] = self._census(now, blocks)
        if settled or self.mallinfo:  # never load ctypes on the way out
            sample.update(self._malloc_figures())
        return sample

    def _census(self, now: float, blocks: int) -> int | None:
        """Count GC-tracked objects while the census stays inside its time budget."""
        # Both grow with the heap: scale the last ones by the growth in allocated blocks,
        # with room for a heap that churned (objects scattered: listing them gets slower).
        growth = CENSUS_SAFETY * blocks / self.census_blocks if self.census_blocks else 1
        if self.census_pause * growth > CENSUS_MAX_PAUSE_S:
            return None
        if self.census_at and (now - self.census_at) * CENSUS_DUTY < self.census_cost * growth:
            return None
        # CPU time of this thread: the work done, not time lost to preemption.
        started = self.work_time()
        everything = gc.get_objects()
        self.census_pause = self.work_time() - started
        self.note_pause(self.census_pause)  # one C call: the target waits
        objects = len(everything)
        if self.attribution is not None and objects <= CENSUS_TYPES_MAX_OBJECTS:
            self._type_census(everything, now)  # Python code: the target runs meanwhile
        del everything
        self.census_cost = self.work_time() - started
        self.census_at, self.census_blocks = now, blocks
        return objects

    def _type_census(self, everything: list, now: float) -> None:
        """Objects and shallow bytes by type, over the whole GC-tracked heap."""
        counts: dict = {}
        size_of = inspect.shallow_size
        for obj in everything:
            kind = type(obj)
            entry = counts.get(id(kind))
            if entry is None:
                counts[id(kind)] = [kind, 1, size_of(obj)]
            else:
                entry[1] += 1
                entry[2] += size_of(obj)
        top = sorted(counts.values(), key=lambda entry: -entry[2])[:TOP_TYPES]
        self.send({"type": "census", "pid": self.pid, "mono": now, "objects": len(everything),
                   "types": [[inspect.type_name(kind), count, size]
                             for kind, count, size in top]})

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
        self.thread_ident = _thread.get_ident()
        try:
            try:
                self.send_hello()
            except Exception:
                pass  # the loop's reports still go out
            # The first sample waits one interval: start-up belongs to the target.
            next_at = time.monotonic() + self.interval()
            failures = 0
            while not self.stopped and sock is self.sock and failures < MAX_FAILED_TICKS:
                attribution = self.attribution
                due = min(next_at, attribution.next_due()) if attribution else next_at
                timeout = due - time.monotonic()
                if timeout > 0:
                    self._serve(sock, timeout)
                    continue
                if attribution is not None and time.monotonic() >= attribution.next_due():
                    attribution.run(time.monotonic())
                    if time.monotonic() < next_at:
                        continue
                try:
                    _load_inspect()  # naming the types of histograms taken before this tick
                    self.flush_gc_events()
                    self.flush_types()
                    sample = self.sample()
                    self.send({"type": "sample", **sample})
                    failures = 0
                    self._attribute(sample)
                except Exception:
                    failures += 1  # one bad tick is skipped; a run of them stops the agent
                self.agent_cpu = self.work_time()
                next_at = time.monotonic() + self.interval()
        except Exception:
            pass  # the agent dies quietly; the target lives on
        finally:
            if self.attribution is not None and sock is self.sock:
                try:
                    self.attribution.abandon()
                except Exception:
                    pass

    def _attribute(self, sample: dict) -> None:
        """Feed attribution the heap's size; load it once the process has lived a second."""
        if self.attribution is None:
            if sample["mono"] - self.started < ATTRIBUTION_AFTER_S:
                return
            import _memgrowth_attribution

            self.attribution = _memgrowth_attribution.Attribution(self)
        self.attribution.note_heap(sample["mono"], sample["allocated_blocks"])

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


def _python_threads() -> int:
    threading = sys.modules.get("threading")
    # The agent's own thread is a bare one, so threading does not count it.
    return threading.active_count() if threading is not None else 1


def _asyncio_pending_tasks() -> int | None:
    pending = inspect.pending_tasks() if inspect is not None else None
    return None if pending is None else len(pending)


def _unknown_size(_obj) -> int:
    return -1  # negative: not measured (the helpers were not loaded yet)


def _load_inspect() -> None:
    global inspect
    if inspect is None:
        try:
            import _memgrowth_inspect as module
        except ImportError:  # imported as part of memgrowth (the recorder's side)
            from memgrowth.probes.python_agent.inject import _memgrowth_inspect as module
        inspect = module


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
