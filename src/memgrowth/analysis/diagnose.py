"""From a recording to a diagnosis: the verdict, what grows, the forecast and the findings.

Pure: a Recording in, a Diagnosis out. The verdict weighs the tree's RSS floor and, for
Python processes, the Python heap's post-GC floor; findings say which memory grows (threads,
asyncio tasks, cycles with gc disabled, native memory, a child process) or why memory is high
without growing (memory the allocator keeps).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import numpy as np

from memgrowth.analysis import attribution, go
from memgrowth.analysis.finding import Finding
from memgrowth.analysis.forecast import Forecast, choose_limit, forecast
from memgrowth.analysis.gc import GcDynamics, gc_dynamics
from memgrowth.analysis.growth import GrowthAssessment, assess
from memgrowth.analysis.series import ProcessSeries, RunSeries, from_recording
from memgrowth.analysis.summary import RunSummary, summarize
from memgrowth.recording import Recording
from memgrowth.units import format_bytes

SCHEMA = "memgrowth.diagnosis/1"
HEAP_MATERIAL_BLOCKS = 2000  # a Python heap rising by fewer blocks over the window is noise
THREADS_MATERIAL = 5
TASKS_MATERIAL = 20
RETAINED_SHARE = 0.3  # malloc holding this share of RSS free…
RETAINED_BYTES = 32 << 20  # …and at least this much, is memory the allocator keeps
CHILD_SHARE = 0.5
NAMED_KINDS = ("container", "site", "threads", "tasks", "gc_disabled")


@dataclass
class Diagnosis:
    """Everything memgrowth concludes about one recording."""

    summary: RunSummary
    runtime: str
    verdict: str
    confidence: float
    reason: str
    record_more_s: float | None
    pattern: str
    metric: str
    rate_bytes_per_s: float | None
    rate_ci95: tuple[float, float] | None
    forecast: Forecast
    gc: GcDynamics | None
    baseline_objects: int | None
    baseline_gc_count: int | None
    baseline_heap_blocks: int | None
    peak_heap_blocks: int | None
    findings: list[Finding] = field(default_factory=list)
    heap: dict[int, GrowthAssessment] = field(default_factory=dict)
    rss: GrowthAssessment | None = None
    go_memory: go.GoMemory | None = None  # where a Go root's RSS is
    go_gc: go.GoGc | None = None


def diagnose(recording: Recording) -> Diagnosis:
    """Diagnose a recording (possibly cut off, possibly empty: then `inconclusive`)."""
    run = from_recording(recording)
    rss = assess(run.t, run.rss)
    python_heap = {pid: _heap_assessment(p) for pid, p in run.processes.items() if p.has_agent}
    go_heap = {pid: go.heap_assessment(p) for pid, p in run.processes.items() if p.has_go}
    heap = {**python_heap, **go_heap}
    goroutines = {pid: go.goroutine_assessment(p) for pid, p in run.processes.items()
                  if p.has_go}
    high_water = _high_water(run, rss, python_heap) or go.high_water(run, rss, go_heap,
                                                                      goroutines)
    verdict, confidence, reason = _verdict(rss, heap, high_water, goroutines, set(go_heap))
    findings: list[Finding] = []
    metric = "rss"
    if verdict == "leak":
        findings, metric = _leak_findings(run, rss, heap, goroutines)
    findings += _retention_findings(run, verdict)
    if verdict == "no_leak":
        for process in run.processes.values():
            findings += attribution.largest_holders(process)
    limit, source = choose_limit(run.limit_flag, run.cgroup_limit, run.mem_total)
    level = float(rss.floor_y[-1]) if rss.floor_y is not None and len(rss.floor_y) else None
    projection = forecast(level, rss.rate, rss.rate_ci95, limit, source,
                          growing=verdict == "leak")
    root = run.processes.get(run.root_pid or -1)
    first = _first_agent_values(root)
    blocks = [p.agent["allocated_blocks"] for p in run.processes.values() if p.has_agent]
    summary = summarize(recording, run)
    go_root = root if root is not None and root.has_go else next(
        (p for p in run.processes.values() if p.has_go), None)
    return Diagnosis(
        summary=summary,
        runtime="go" if go_heap else "python" if python_heap else "native",
        verdict=verdict, confidence=confidence, reason=reason,
        record_more_s=rss.record_more_s if verdict == "inconclusive" else None,
        pattern=rss.pattern, metric=metric,
        rate_bytes_per_s=rss.rate, rate_ci95=rss.rate_ci95,
        forecast=projection, gc=gc_dynamics(run),
        baseline_objects=first.get("gc_objects"),
        baseline_gc_count=first.get("gc_count"),
        baseline_heap_blocks=summary.python_blocks_first,
        peak_heap_blocks=int(max(np.nanmax(b) for b in blocks if len(b)))
        if any(len(b) and np.isfinite(b).any() for b in blocks) else None,
        findings=findings, heap=heap, rss=rss,
        go_memory=go.memory_breakdown(go_root) if go_root else None,
        go_gc=go.gc_from_memstats(go_root) if go_root else None,
    )


def _heap_assessment(process: ProcessSeries) -> GrowthAssessment:
    """The Python heap's floor: agent samples plus the heap right after big collections."""
    t = np.concatenate([process.agent_t, process.post_gc_t])
    blocks = np.concatenate([process.agent["allocated_blocks"], process.post_gc_heap])
    return assess(t, blocks, material_floor=HEAP_MATERIAL_BLOCKS, unit="blocks")


def _high_water(run: RunSeries, rss: GrowthAssessment,
                heap: dict[int, GrowthAssessment]) -> str | None:
    """Why an RSS rise beside flat Python heaps is the allocator filling up, if it is.

    pymalloc keeps the arenas a saw-toothed heap needed at its peaks, so RSS creeps up towards
    what the heap's peaks took, then stops. When the RSS rise fits inside the heap's swing (at
    the process's own bytes per block) and malloc's in-use bytes are not rising, the rise is
    that high-water mark, not a leak.
    """
    if rss.verdict != "leak" or not heap or any(h.verdict != "no_leak" for h in heap.values()):
        return None
    if rss.floor_y is None or not len(rss.floor_y):
        return None
    room, first_peak = 0.0, 0.0
    for pid in heap:
        process = run.processes[pid]
        blocks = process.agent["allocated_blocks"]
        malloc = process.agent["malloc_in_use"]
        known = np.isfinite(blocks)
        if known.sum() < 8 or not len(process.rss):
            return None
        if np.isfinite(malloc).sum() >= 8:
            malloc_growth = assess(process.agent_t[np.isfinite(malloc)],
                                   malloc[np.isfinite(malloc)])
            if malloc_growth.verdict == "leak":
                return None  # malloc itself grows: native memory, not arenas
        swing_bytes, peak_t = _heap_swing_bytes(process.agent_t[known], blocks[known],
                                                process.t, process.rss)
        room += swing_bytes
        first_peak = max(first_peak, peak_t)
    # What RSS added after the heaps first reached their peaks: the arenas filling up.
    rise = float(rss.floor_y[-1] - np.interp(first_peak, run.t, run.rss))
    if rise <= room:
        return (f"RSS rose {format_bytes(rise)} after the Python heap's first peak, within the "
                f"{format_bytes(room)} its own swings reach, while its post-GC floor stays "
                "flat: pymalloc keeping arenas (a high-water mark), not a leak")
    return None


def _heap_swing_bytes(agent_t: np.ndarray, blocks: np.ndarray, t: np.ndarray,
                      rss: np.ndarray) -> tuple[float, float]:
    """The heap's swing in bytes, at the bytes per block its first big peak cost in RSS, and
    the time of that peak. The first peak comes before most of any leak, so a leak cannot
    inflate the estimate."""
    swing = float(blocks.max() - blocks.min())
    first_peak = int(np.argmax(blocks >= blocks.min() + 0.9 * swing))
    peak_t = float(agent_t[first_peak])
    added_blocks = float(blocks[first_peak] - blocks[0])
    added_bytes = float(np.interp(peak_t, t, rss) - np.interp(agent_t[0], t, rss))
    if added_blocks <= 0 or added_bytes <= 0:
        return 0.0, peak_t
    return swing * added_bytes / added_blocks, peak_t


def _verdict(rss: GrowthAssessment, heap: dict[int, GrowthAssessment],
             high_water: str | None = None,
             goroutines: dict[int, GrowthAssessment] | None = None,
             go_pids: set[int] | None = None) -> tuple[str, float, str]:
    heap_leaks = {pid: h for pid, h in heap.items() if h.verdict == "leak"}
    goroutine_leaks = {pid: g for pid, g in (goroutines or {}).items() if g.verdict == "leak"}
    if high_water is not None:
        return "no_leak", round(min(h.confidence for h in heap.values()) * 0.95, 3), high_water
    if rss.verdict == "leak":
        return "leak", rss.confidence, "RSS: " + rss.reason
    if heap_leaks:
        pid, strongest = max(heap_leaks.items(), key=lambda item: item[1].confidence)
        runtime = "Go" if pid in (go_pids or set()) else "Python"
        return ("leak", strongest.confidence,
                f"the {runtime} heap of pid {pid} keeps growing: {strongest.reason} "
                "(RSS grows less: freed memory is being reused)")
    if goroutine_leaks:
        pid, strongest = max(goroutine_leaks.items(), key=lambda item: item[1].confidence)
        return ("leak", strongest.confidence,
                f"the goroutines of pid {pid} keep piling up: {strongest.reason}")
    if rss.verdict == "no_leak":
        return "no_leak", rss.confidence, "RSS: " + rss.reason
    if (rss.verdict == "inconclusive" and heap and rss.rate_ci95 is not None
            and all(h.verdict == "no_leak" for h in heap.values())):
        confidence = min(h.confidence for h in heap.values()) * 0.95
        if rss.pattern in ("plateau", "sawtooth", "flat"):
            return ("no_leak", round(confidence, 3),
                    "the heap's post-GC floor is flat and RSS is levelling off "
                    f"({rss.pattern}): the allocator's high-water mark, not a leak")
        if rss.rate_ci95[0] <= 0:
            return ("no_leak", round(confidence * 0.95, 3),
                    "the heap's post-GC floor is flat, and RSS, noisy, is not shown to grow "
                    f"(its rate {format_bytes(rss.rate_ci95[0], signed=True)} to "
                    f"{format_bytes(rss.rate_ci95[1], signed=True)} per s, 95%)")
    return "inconclusive", rss.confidence, "RSS: " + rss.reason


def _first_agent_values(process: ProcessSeries | None) -> dict[str, int]:
    if process is None or not process.has_agent:
        return {}
    values: dict[str, int] = {}
    objects = process.agent["gc_objects"]
    known = objects[np.isfinite(objects)]
    if len(known):
        values["gc_objects"] = int(known[0])
    collections = sum(process.agent[f"gc_collections{g}"][0] for g in range(3))
    if np.isfinite(collections):
        values["gc_count"] = int(collections)
    return values


def _leak_findings(run: RunSeries, rss: GrowthAssessment, heap: dict[int, GrowthAssessment],
                   goroutines: dict[int, GrowthAssessment]) -> tuple[list[Finding], str]:
    """Which memory grows, per process, ranked by its share of the tree's growth."""
    growth = {pid: assess(p.t, p.rss) for pid, p in run.processes.items() if len(p.t)}
    total = sum(max(g.rate or 0.0, 0.0) for g in growth.values()) or None
    findings: list[Finding] = []
    metric = "rss"
    ranked = sorted(run.processes.values(),
                    key=lambda p: -(growth[p.pid].rate or 0.0) if p.pid in growth else 0.0)
    for process in ranked:
        own = growth.get(process.pid)
        own_heap = heap.get(process.pid)
        rate = own.rate if own else None
        share = (max(rate or 0.0, 0.0) / total) if total else None
        own_goroutines = goroutines.get(process.pid)
        grows = any(g is not None and g.verdict == "leak"
                    for g in (own, own_heap, own_goroutines))
        if not grows:
            continue
        causes = _causes(process, own, own_heap, rate, share)
        if process.has_go:
            causes = _go_causes(process, own_heap, own_goroutines, rate, share) + causes
        if causes and metric == "rss":
            metric = {"threads": "threads", "tasks": "tasks",
                      "goroutines": "goroutines"}.get(causes[0].kind, metric)
        if own_heap is not None and own_heap.verdict == "leak" and metric == "rss":
            metric = "heap"
        if process.pid != run.root_pid and share is not None and share >= CHILD_SHARE:
            # A named holder or line inside the child comes first; this finding frames it.
            named = [c for c in causes if c.kind in NAMED_KINDS]
            findings.extend(named)
            causes = [c for c in causes if c.kind not in NAMED_KINDS]
            findings.append(Finding(
                kind="child_process",
                title=f"{process.label} grows: {_rate(rate)}, {share:.0%} of the tree's growth",
                holder=process.label, rate_bytes_per_s=rate, share=share, pid=process.pid,
                evidence=f"RSS: {own.reason if own else ''}",
                advice="Look inside that process: its findings follow. Worker pools can "
                       "recycle leaking workers (multiprocessing Pool(maxtasksperchild=N))."))
        findings.extend(causes)
    return findings, metric


def _causes(process: ProcessSeries, own: GrowthAssessment | None,
            own_heap: GrowthAssessment | None, rate: float | None,
            share: float | None) -> list[Finding]:
    found: list[Finding] = []
    label = process.label
    since = _window_start(process, own_heap or own)
    # Every cause found here is about this process and its growth.
    cause = partial(Finding, holder=label, rate_bytes_per_s=rate, share=share, pid=process.pid)
    threads = assess(process.t, process.threads, material_floor=THREADS_MATERIAL,
                     material_share=0.0, unit="threads") if len(process.t) else None
    if threads is not None and threads.verdict == "leak" and threads.rate:
        found.append(_threads_finding(process, threads, rate, since, cause))
    if process.has_agent:
        tasks = process.agent["asyncio_tasks"]
        if np.isfinite(tasks).sum() >= 8:
            known = np.isfinite(tasks)
            task_growth = assess(process.agent_t[known], tasks[known],
                                 material_floor=TASKS_MATERIAL, material_share=0.0,
                                 unit="tasks")
            if task_growth.verdict == "leak" and task_growth.rate:
                found.append(_tasks_finding(process, task_growth, tasks, since, cause))
        enabled = process.agent["gc_enabled"]
        if len(enabled) and enabled[-1] == 0 and own_heap is not None \
                and own_heap.verdict == "leak":
            found.append(_gc_disabled_finding(process, own_heap, cause))
        if own_heap is not None and own_heap.verdict == "leak" and not found:
            growth_rate = rate if rate and rate > 0 else None
            containers = attribution.container_findings(process, since, growth_rate)
            found += containers
            found += attribution.site_findings(process, growth_rate, containers)[:3]
            accumulating = attribution.type_finding(process, since, own_heap.reason)
            if accumulating is not None:
                found.append(accumulating)
        heap_flat = own_heap is not None and own_heap.verdict != "leak"
        if heap_flat and own is not None and own.verdict == "leak" and not found:
            found.append(_native_finding(process, own, rate, share))
    return found


def _go_causes(process: ProcessSeries, heap: GrowthAssessment | None,
               goroutines: GrowthAssessment | None, rate: float | None,
               share: float | None) -> list[Finding]:
    """A Go process: goroutines that pile up, then the lines whose heap grew."""
    found = []
    if goroutines is not None and goroutines.verdict == "leak" and goroutines.rate:
        found.append(go.goroutine_finding(process, goroutines, rate, share))
    if heap is not None and heap.verdict == "leak" or not found:
        found += go.heap_site_findings(process, rate)
    return found


def _window_start(process: ProcessSeries, growth: GrowthAssessment | None) -> float:
    """Start of the recent window the growth was judged on (attribution looks there)."""
    ends = [a[-1] for a in (process.agent_t, process.t) if len(a)]
    if not ends or growth is None or growth.window_s is None:
        return 0.0
    return float(max(ends)) - growth.window_s


def _threads_finding(process: ProcessSeries, threads: GrowthAssessment, rate: float | None,
                     since: float, cause: partial) -> Finding:
    alive = int(np.nanmax(process.threads))
    per = rate / threads.rate if rate and threads.rate else None
    group = attribution.thread_evidence(process, since)
    title = f"Threads pile up in {process.label}: +{threads.rate:.2f} threads/s, {alive} alive " \
            "at the end"
    evidence = f"thread count: {threads.reason}"
    where = None
    if group:
        where = attribution.format_site(group.get("blocked"))
        started = attribution.format_site(group.get("started"))
        title = (f"Threads {group.get('name')!r} pile up in {process.label}: "
                 f"+{threads.rate:.2f}/s, {alive} alive at the end"
                 + (f", blocked at {where}" if where else ""))
        evidence += (f"; {group['first']:,.0f} → {group['count']:,.0f} threads named "
                     f"{group.get('name')!r}" + (f", started at {started}" if started else "")
                     + (f", blocked at {where}" if where else ""))
        innermost = attribution.format_site(group.get("innermost"))
        if innermost and innermost != where:
            evidence += f" (innermost frame {innermost})"
    if per:
        evidence += f"; about {format_bytes(per)} of memory per thread"
    return cause(
        kind="threads", title=title, where=where, evidence=evidence,
        advice="Threads that never finish keep their stack and everything they reference. "
               "Give blocking waits a timeout, join threads, or use a bounded "
               "concurrent.futures.ThreadPoolExecutor instead of a thread per request.")


def _tasks_finding(process: ProcessSeries, growth: GrowthAssessment, tasks: np.ndarray,
                   since: float, cause: partial) -> Finding:
    group = attribution.task_evidence(process, since)
    title = (f"asyncio tasks never finish in {process.label}: +{growth.rate:.1f} tasks/s, "
             f"{int(np.nanmax(tasks))} pending at the end")
    evidence = f"pending tasks: {growth.reason}"
    where = coroutine = None
    if group:
        coroutine = group.get("coroutine")
        where = attribution.format_site(group.get("awaiting"))
        defined = attribution.format_site(group.get("defined"))
        created = attribution.format_site(group.get("created"))
        title = (f"asyncio tasks of {coroutine}() never finish in {process.label}: "
                 f"+{growth.rate:.1f}/s, {int(np.nanmax(tasks))} pending at the end"
                 + (f", waiting at {where}" if where else ""))
        evidence += (f"; {group['first']:,.0f} → {group['count']:,.0f} pending tasks of "
                     f"{coroutine}() (defined at {defined})"
                     + (f", waiting at {where}" if where else "")
                     + (f", created at {created}" if created else
                        "; where they were created is not known (before memgrowth watched "
                        "create_task, or on a loop that is not asyncio's own)"))
    return cause(
        kind="tasks", title=title, where=where, type=coroutine, evidence=evidence,
        advice="Every pending task keeps its coroutine frame and what it references. Await or "
               "cancel the tasks you create, give waits a timeout (asyncio.wait_for / "
               "asyncio.timeout), keep a set of tasks and cancel them on shutdown.")


def _gc_disabled_finding(process: ProcessSeries, heap: GrowthAssessment,
                         cause: partial) -> Finding:
    objects = process.agent["gc_objects"]
    known = objects[np.isfinite(objects)]
    evidence = f"gc.isenabled() is False; Python heap: {heap.reason}"
    if len(known) >= 2:
        evidence += f"; GC-tracked objects {int(known[0]):,} → {int(known[-1]):,}"
    cycles = attribution.cycle_types(process)
    in_cycles = [(name, count) for name, count, share in cycles if share >= 0.5]
    # The user's own classes first: they are what a person can change.
    in_cycles.sort(key=lambda item: (0 if "." in item[0] else 1, -item[1]))
    if cycles:
        listing = ", ".join(f"{name} {count:,.0f}" + (" (in cycles)" if share >= 0.5 else "")
                            for name, count, share in cycles[:6])
        evidence += f"; piling up in generation 0: {listing}"
    where = attribution.top_site(process)
    if where:
        evidence += f"; most retained allocations come from {where}"
    names = ", ".join(name for name, _ in in_cycles[:3])
    return cause(
        kind="gc_disabled", where=where, type=in_cycles[0][0] if in_cycles else None,
        title=f"gc is disabled in {process.label} and unreachable reference cycles pile up"
              + (f" ({names})" if names else "") + f": +{heap.rate:,.0f} heap blocks/s",
        evidence=evidence,
        advice="With gc.disable() only reference counting frees memory, and objects in cycles "
               "are never freed. Re-enable it (gc.enable(), or gc.freeze() after start-up to "
               "make collections cheap), or break the cycles with weakref.")


def _native_finding(process: ProcessSeries, own: GrowthAssessment, rate: float | None,
                    share: float | None) -> Finding:
    malloc = process.agent["malloc_in_use"]
    known = np.isfinite(malloc)
    through_malloc = None
    if known.sum() >= 8:
        malloc_growth = assess(process.agent_t[known], malloc[known])
        if malloc_growth.rate and rate and malloc_growth.rate >= 0.5 * rate:
            through_malloc = malloc_growth.rate
    where = "malloc (glibc mallinfo2 in-use grows)" if through_malloc else None
    evidence = f"RSS: {own.reason}; the Python heap's floor is flat"
    if through_malloc:
        evidence += f"; malloc in use grows {_rate(through_malloc)}"
    return Finding(
        kind="native",
        title=f"Native memory grows in {process.label} outside the Python heap: {_rate(rate)}",
        where=where, holder=process.label, rate_bytes_per_s=rate, share=share, pid=process.pid,
        evidence=evidence,
        advice="A C extension, ctypes/cffi call or native library allocates without freeing "
               "(or caches without bound). Find the site with `memray run --native` or "
               "heaptrack; check that every native handle is closed and every malloc freed.")


def _retention_findings(run: RunSeries, verdict: str) -> list[Finding]:
    """Memory the allocator keeps after frees: RSS well above what is in use, both flat."""
    found = []
    if verdict == "leak":
        return found
    for process in run.processes.values():
        if process.has_go:
            idle = go.idle_heap_finding(process)
            found += [idle] if idle else []
        if not process.has_agent or not len(process.rss):
            continue
        free = process.agent["malloc_free"]
        known = free[np.isfinite(free)]
        if not len(known):
            continue
        kept, resident = float(known[-1]), float(process.rss[-1])
        if kept >= max(RETAINED_SHARE * resident, RETAINED_BYTES):
            found.append(Finding(
                kind="fragmentation",
                title=f"malloc keeps {format_bytes(kept)} free in {process.label} "
                      f"({kept / resident:.0%} of its RSS)",
                holder=process.label, share=kept / resident, pid=process.pid,
                evidence=f"glibc mallinfo2: {format_bytes(kept)} free in malloc's arenas, "
                         f"RSS {format_bytes(resident)}; memory is not growing",
                advice="This is allocator retention, not a leak. Calling malloc_trim(0) "
                       "(ctypes.CDLL('libc.so.6').malloc_trim(0)) returns it to the system; "
                       "MALLOC_ARENA_MAX=2 or jemalloc reduce it for good."))
    return found


def _rate(rate: float | None) -> str:
    return f"{format_bytes(rate, signed=True)}/s" if rate is not None else "—"
