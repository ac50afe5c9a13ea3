"""Go targets: the heap's floor from MemStats, goroutines that pile up and where they wait,
heap growth by function and line from successive heap profiles, and where the RSS is
(heap in use, idle, released, stacks, runtime metadata).

Pure: a process's Go series in, assessments and findings out. Profiles are parsed here from
the bytes the recording keeps (the first and the last of each kind).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from memgrowth.analysis.finding import Finding
from memgrowth.analysis.growth import GrowthAssessment, assess
from memgrowth.analysis.series import ProcessSeries, RunSeries
from memgrowth.analysis.trend import bin_minima
from memgrowth.formats.gctrace import MIB
from memgrowth.formats.pprof import Location, ProfileError, parse, parse_legacy_count
from memgrowth.units import format_bytes

GOROUTINES_MATERIAL = 20
IDLE_SHARE = 0.3  # heap the runtime keeps idle (not returned) over RSS…
IDLE_BYTES = 32 << 20  # …and at least this much, with a flat heap: memory kept, not leaked
SITES = 3


def heap_after_gc(process: ProcessSeries) -> tuple[np.ndarray, np.ndarray]:
    """The heap right after the latest collection, per poll: HeapAlloc minus what was
    allocated since that collection (the allocation rate between polls × the time since
    MemStats.LastGC). Polled once a second, a heap collected several times a second is
    otherwise caught at random heights of its sawtooth."""
    go = process.go
    heap = go.get("heap_alloc", np.zeros(0))
    total, last_gc, polled = (go.get(c) for c in ("total_alloc", "last_gc_ns", "polled_ns"))
    if total is None or last_gc is None or polled is None or len(heap) < 2:
        known = np.isfinite(heap)
        return process.go_t[known], heap[known]
    rate = np.full(len(heap), np.nan)
    rate[1:] = np.diff(total) / np.maximum(np.diff(polled), 1.0)  # bytes per ns
    since = polled - last_gc
    estimate = heap - rate * since
    usable = np.isfinite(estimate) & (last_gc > 0) & (since >= 0) & (estimate > 0)
    usable &= since < 2 * np.nanmedian(np.diff(polled)) if usable.any() else usable
    if usable.sum() < 8:  # too few polls with a collection near them: the plain floor
        known = np.isfinite(heap)
        return process.go_t[known], heap[known]
    return process.go_t[usable], estimate[usable]


def heap_assessment(process: ProcessSeries) -> GrowthAssessment:
    """The Go heap under its GC sawtooth: the floor of what each collection kept (from the
    GC trace when recorded: what each cycle marked, the lowest of every three)."""
    if len(process.gctrace_t) >= 8:
        t, live = process.gctrace_t, process.gctrace["heap_live"]
        t, live = bin_minima(t, live, max(len(t) // 3, 8))
        return assess(t, live, material_floor=2 * MIB)
    t, y = heap_after_gc(process)
    return assess(t, y)


def goroutine_assessment(process: ProcessSeries) -> GrowthAssessment:
    count = process.go.get("goroutines", np.zeros(0))
    known = np.isfinite(count) if len(count) == len(process.go_t) else np.zeros(0, dtype=bool)
    return assess(process.go_t[known], count[known], material_floor=GOROUTINES_MATERIAL,
                  material_share=0.0, unit="goroutines")


def _runtime_frame(name: str) -> bool:
    return name.startswith(("runtime.", "runtime/", "internal/", "sync.", "time.Sleep"))


def _frame_site(location: Location) -> tuple[str, str | None]:
    """(function, `file:line (function)`) of a location's innermost line."""
    line = location.lines[0] if location.lines else None
    function = line.function if line else None
    if function is None or not function.name:
        return f"0x{location.address:x}", None
    where = f"{function.filename}:{line.line} ({function.name})" if function.filename else None
    return function.name, where


def goroutine_finding(process: ProcessSeries, growth: GrowthAssessment, rate: float | None,
                      share: float | None) -> Finding:
    """Goroutines pile up: which stack gained most between the first and last profiles, and
    the first frame outside the runtime, where they wait."""
    count = process.go["goroutines"]
    alive = int(np.nanmax(count))
    title = (f"Goroutines pile up in {process.label}: +{growth.rate:.1f}/s, {alive:,} alive "
             "at the end")
    evidence = f"goroutine count: {growth.reason}"
    where = None
    profiles = process.go_profiles.get("goroutine", [])
    if len(profiles) >= 1:
        groups = [_stack_counts(data) for _, data in (profiles[0], profiles[-1])]
        first, last = groups[0], groups[-1] if len(profiles) > 1 else Counter()
        gained = Counter({stack: last[stack] - first.get(stack, 0) for stack in last})
        if len(profiles) == 1:
            gained = first
        if gained:
            stack, added = gained.most_common(1)[0]
            # Frames without a symbol are the runtime's own (Go leaves them out of debug=1).
            named = [frame for frame in stack if frame[1] is not None]
            waiting = next((f for f in named if not _runtime_frame(f[0])), None)
            if waiting is not None:
                where = waiting[1]
                title += f", waiting in {waiting[0]}"
            chain = " ← ".join(f[1] for f in named[:6]) or "(runtime frames only)"
            evidence += f"; +{added:,} goroutines with the stack {chain}"
    per = rate / growth.rate if rate and growth.rate else None
    if per:
        evidence += f"; about {format_bytes(per)} of memory per goroutine"
    return Finding(
        kind="goroutines", title=title, where=where, holder=process.label,
        rate_bytes_per_s=rate, share=share, pid=process.pid, evidence=evidence,
        advice="Every goroutine that never returns keeps its stack and what it references. "
               "Give blocking receives and sends a way out (a context.Context with a "
               "deadline, select with ctx.Done()), close the channels they wait on, and "
               "bound how many you start (a worker pool, errgroup.SetLimit).")


def _stack_counts(data: bytes) -> Counter:
    """Goroutines per stack (as (function, where) frames, innermost first)."""
    try:
        profile = parse_legacy_count(data.decode("utf-8", "replace"))
    except ProfileError:
        return Counter()
    counts: Counter = Counter()
    for sample in profile.samples:
        counts[tuple(_frame_site(loc) for loc in sample.locations)] += sample.values[0]
    return counts


def heap_site_findings(process: ProcessSeries, rate: float | None) -> list[Finding]:
    """The lines whose in-use heap grew most from the first to the last heap profile."""
    profiles = process.go_profiles.get("heap", [])
    if len(profiles) < 2:
        return []
    (t0, first), (t1, last) = profiles[0], profiles[-1]
    before, after = _inuse_by_site(first), _inuse_by_site(last)
    if before is None or after is None or t1 <= t0:
        return []
    grown = {site: after[site] - before.get(site, 0) for site in after}
    positive = {site: delta for site, delta in grown.items() if delta > 0}
    total = sum(positive.values())
    found = []
    for (function, where), delta in sorted(positive.items(), key=lambda i: -i[1])[:SITES]:
        share = delta / total if total else None
        found.append(Finding(
            kind="site",
            title=f"{where or function} holds {format_bytes(delta)} more heap at the end "
                  f"({format_bytes(delta / (t1 - t0))}/s)",
            where=where or function, holder=process.label, pid=process.pid,
            rate_bytes_per_s=delta / (t1 - t0), share=share,
            evidence=f"in-use heap allocated there: "
                     f"{format_bytes(before.get((function, where), 0))} at {t0:.0f} s → "
                     f"{format_bytes(after[(function, where)])} at {t1:.0f} s "
                     f"(heap profiles; {share:.0%} of the growth they show)",
            advice="What this line allocates stays reachable: find the map, slice or channel "
                   "that keeps it (`go tool pprof -list` on the function), and bound it or "
                   "delete entries when their work is done."))
    return found


def _inuse_by_site(data: bytes) -> dict[tuple[str, str | None], int] | None:
    try:
        profile = parse(data)
        index = profile.sample_index("inuse_space")
    except ProfileError:
        return None
    sites: dict[tuple[str, str | None], int] = {}
    for sample in profile.samples:
        if not sample.locations:
            continue
        frame = next((f for f in (_frame_site(loc) for loc in sample.locations)
                      if not _runtime_frame(f[0])), _frame_site(sample.locations[0]))
        sites[frame] = sites.get(frame, 0) + sample.values[index]
    return sites


@dataclass(frozen=True)
class GoMemory:
    """Where a Go process's RSS is, from its last MemStats (the question asked most: why is
    RSS so much larger than HeapAlloc?)."""

    rss: float | None
    heap_alloc: float
    heap_unused: float  # HeapInuse - HeapAlloc: free room in spans in use (fragmentation)
    heap_idle_kept: float  # HeapIdle - HeapReleased: free spans not yet returned to the OS
    heap_released: float
    stacks: float  # StackSys
    runtime_metadata: float  # MSpanSys + MCacheSys + GCSys + BuckHashSys
    other: float  # OtherSys
    sys: float
    goroutines: float | None

    def lines(self) -> list[tuple[str, float]]:
        return [("heap objects (HeapAlloc)", self.heap_alloc),
                ("free room in heap spans in use", self.heap_unused),
                ("idle heap kept for reuse", self.heap_idle_kept),
                ("goroutine stacks", self.stacks),
                ("runtime metadata (spans, GC, profiling)", self.runtime_metadata),
                ("other runtime memory", self.other)]


def memory_breakdown(process: ProcessSeries) -> GoMemory | None:
    if not process.has_go:
        return None
    last = {name: values[-1] for name, values in process.go.items() if len(values)}

    def value(name: str) -> float:
        v = last.get(name)
        return float(v) if v is not None and np.isfinite(v) else 0.0

    if not value("sys"):
        return None
    rss = float(process.rss[-1]) if len(process.rss) else None
    return GoMemory(
        rss=rss, heap_alloc=value("heap_alloc"),
        heap_unused=max(value("heap_inuse") - value("heap_alloc"), 0.0),
        heap_idle_kept=max(value("heap_idle") - value("heap_released"), 0.0),
        heap_released=value("heap_released"), stacks=value("stack_sys"),
        runtime_metadata=value("mspan_sys") + value("mcache_sys") + value("gc_sys")
        + value("buck_hash_sys"), other=value("other_sys"), sys=value("sys"),
        goroutines=value("goroutines") if "goroutines" in last else None)


def idle_heap_finding(process: ProcessSeries) -> Finding | None:
    """Memory the Go runtime keeps idle (not yet returned to the OS), with a flat heap."""
    memory = memory_breakdown(process)
    if memory is None or not memory.rss:
        return None
    kept = memory.heap_idle_kept
    if kept < max(IDLE_SHARE * memory.rss, IDLE_BYTES):
        return None
    return Finding(
        kind="fragmentation",
        title=f"The Go runtime keeps {format_bytes(kept)} of idle heap in {process.label} "
              f"({kept / memory.rss:.0%} of its RSS)",
        holder=process.label, share=kept / memory.rss, pid=process.pid,
        evidence=f"HeapIdle - HeapReleased = {format_bytes(kept)}; HeapAlloc "
                 f"{format_bytes(memory.heap_alloc)}; RSS {format_bytes(memory.rss)}",
        advice="Not a leak: the runtime returns idle heap to the OS gradually (scavenger). "
               "GOMEMLIMIT makes it return memory sooner under pressure; "
               "debug.FreeOSMemory() returns it at once.")


@dataclass(frozen=True)
class GoGc:
    collections: int
    per_minute: float | None
    pause_max_ms: float | None
    pause_mean_ms: float | None
    cpu_fraction: float | None


def gc_from_memstats(process: ProcessSeries) -> GoGc | None:
    """Collections, their rate and pauses, from NumGC and the pause figures over the run."""
    numbers = process.go.get("num_gc")
    if numbers is None or not np.isfinite(numbers).any():
        return None
    known = np.isfinite(numbers)
    t, gc = process.go_t[known], numbers[known]
    collections = int(gc[-1] - gc[0])
    span = float(t[-1] - t[0])
    total_ns = process.go.get("pause_total_ns", np.zeros(0))[known]
    last_pause = process.go.get("last_pause_ns", np.zeros(0))
    fraction = process.go.get("gc_cpu_fraction", np.zeros(0))
    pause_mean = ((total_ns[-1] - total_ns[0]) / collections / 1e6
                  if collections and len(total_ns) and np.isfinite(total_ns[[0, -1]]).all()
                  else None)
    pauses = last_pause[np.isfinite(last_pause)]
    fractions = fraction[np.isfinite(fraction)]
    return GoGc(collections=collections,
                per_minute=collections / span * 60 if span > 0 else None,
                pause_max_ms=float(pauses.max()) / 1e6 if len(pauses) else None,
                pause_mean_ms=pause_mean,
                cpu_fraction=float(fractions[-1]) if len(fractions) else None)


def high_water(run: RunSeries, rss: GrowthAssessment, heaps: dict[int, GrowthAssessment],
               goroutines: dict[int, GrowthAssessment]) -> str | None:
    """Why an RSS rise beside flat Go heaps is the runtime filling up to its sawtooth's peaks.

    Between collections the heap climbs to the goal; the runtime keeps (and only slowly
    returns) the spans those peaks took, so RSS creeps towards them. When every Go heap's
    floor is flat and the RSS rise over the window fits inside the heaps' swing, that rise is
    a high-water mark, not a leak. Goroutines piling up rule it out."""
    if rss.verdict != "leak" or not heaps or any(g.verdict == "leak"
                                                 for g in goroutines.values()):
        return None
    for heap in heaps.values():  # every heap flat, or at least not shown to grow
        if heap.verdict == "leak" or heap.rate_ci95 is None or heap.rate_ci95[0] > 0:
            return None
    if not rss.rate or rss.window_s is None:
        return None
    rise = rss.rate * rss.window_s
    swing = 0.0
    for pid in heaps:
        process = run.processes[pid]
        heap = process.go.get("heap_alloc", np.zeros(0))
        _, floor = heap_after_gc(process)
        if len(heap) and np.isfinite(heap).any() and len(floor):
            swing += float(np.nanmax(heap) - np.min(floor))
    if rise <= swing:
        return (f"RSS rose {format_bytes(rise)} over the last {rss.window_s:.0f} s, within the "
                f"{format_bytes(swing)} the Go heap swings between collections, while the heap "
                "left after each collection stays flat: the runtime keeping the spans its "
                "peaks need (a high-water mark), not a leak")
    return None
