"""A Go program's GC log (`GODEBUG=gctrace=1`) diagnosed: is the live heap growing, how often
does the GC run against the heap, what do its pauses and CPU cost, when is the limit hit.

Pure: a parsed trace in, a diagnosis out. The live heap is what each cycle marked (the third
figure of `a->b->c MB`): it is Go's post-GC floor, so the same growth analysis as for Python
heaps applies. A log that holds several runs of the program (the cycle number starts again)
is judged on its last run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from memgrowth.analysis.finding import Finding
from memgrowth.analysis.forecast import Forecast, forecast
from memgrowth.analysis.growth import GrowthAssessment, assess
from memgrowth.analysis.trend import bin_minima
from memgrowth.formats.gctrace import MIB, GcCycle, GcTrace
from memgrowth.units import format_bytes

GC_CPU_HIGH = 25  # percent of CPU in GC since start: worth a finding
STACK_GROWTH = 8 * MIB  # goroutine stacks rising this much over the run


@dataclass
class GcTraceDiagnosis:
    """Everything concluded from one GC log."""

    cycles: list[GcCycle]
    runs: int
    duration_s: float
    verdict: str
    confidence: float
    reason: str
    growth: GrowthAssessment
    per_minute: float | None
    per_minute_first: float | None  # over the first third of the run
    per_minute_last: float | None  # over the last third
    pause_p50_ms: float | None
    pause_p99_ms: float | None
    pause_max_ms: float | None
    gc_cpu_percent: int | None
    forced: int
    forecast: Forecast
    findings: list[Finding] = field(default_factory=list)


def split_runs(cycles: list[GcCycle]) -> list[list[GcCycle]]:
    """Consecutive runs of one program: the cycle number or the clock starts again."""
    runs: list[list[GcCycle]] = []
    for cycle in cycles:
        if runs and cycle.number > runs[-1][-1].number and cycle.at_s >= runs[-1][-1].at_s:
            runs[-1].append(cycle)
        else:
            runs.append([cycle])
    return runs


def diagnose_trace(trace: GcTrace, limit: int | None = None) -> GcTraceDiagnosis:
    """Diagnose the last run of a GC log; `limit` (bytes) for the forecast."""
    runs = split_runs(trace.cycles)
    cycles = runs[-1] if runs else []
    t = np.array([c.at_s for c in cycles], dtype=float)
    live = np.array([c.heap_live for c in cycles], dtype=float)
    # What a cycle marks includes what was allocated while it marked (floating garbage): the
    # lowest of every three cycles is closer to what really stays. The runtime prints MiB,
    # truncated: a rise of less than two of them is not measurable.
    floor_t, floor_live = bin_minima(t, live, max(len(t) // 3, min(len(t), 8)))
    growth = assess(floor_t, floor_live, material_floor=2 * MIB)
    duration = float(t[-1] - t[0]) if len(t) >= 2 else 0.0
    pauses = np.array([c.pause_ms for c in cycles], dtype=float)
    level = float(live[-1]) if len(live) else None
    projection = forecast(level, growth.rate, growth.rate_ci95, limit,
                          "flag" if limit else None, growing=growth.verdict == "leak")
    diagnosis = GcTraceDiagnosis(
        cycles=cycles, runs=len(runs), duration_s=duration, verdict=growth.verdict,
        confidence=growth.confidence, reason="live heap after each GC: " + growth.reason,
        growth=growth, per_minute=_per_minute(t), per_minute_first=_per_minute(_third(t, 0)),
        per_minute_last=_per_minute(_third(t, 2)),
        pause_p50_ms=_percentile(pauses, 50), pause_p99_ms=_percentile(pauses, 99),
        pause_max_ms=float(pauses.max()) if len(pauses) else None,
        gc_cpu_percent=cycles[-1].cpu_percent if cycles else None,
        forced=sum(c.forced for c in cycles), forecast=projection)
    diagnosis.findings = _findings(diagnosis)
    return diagnosis


def _third(t: np.ndarray, which: int) -> np.ndarray:
    if len(t) < 6:
        return np.zeros(0)
    edges = np.linspace(t[0], t[-1], 4)
    return t[(t >= edges[which]) & (t <= edges[which + 1])]


def _per_minute(t: np.ndarray) -> float | None:
    if len(t) < 2 or t[-1] <= t[0]:
        return None
    return (len(t) - 1) / (t[-1] - t[0]) * 60.0


def _percentile(values: np.ndarray, q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


def _findings(d: GcTraceDiagnosis) -> list[Finding]:
    found = []
    cycles = d.cycles
    if not cycles:
        return found
    first, last = cycles[0], cycles[-1]
    if d.verdict == "leak" and d.growth.rate:
        found.append(Finding(
            kind="heap", title=f"The live heap grows after every GC: "
                               f"{format_bytes(d.growth.rate, signed=True)}/s, "
                               f"{format_bytes(first.heap_live)} → {format_bytes(last.heap_live)}",
            rate_bytes_per_s=d.growth.rate,
            evidence=f"marked live heap over {len(cycles)} cycles: {d.growth.reason}; heap goal "
                     f"{format_bytes(first.goal)} → {format_bytes(last.goal)}",
            advice="Something keeps what it allocates: take two heap profiles a few minutes "
                   "apart (curl -o a.pb.gz http://HOST/debug/pprof/heap) and compare them with "
                   "`memgrowth pprof top b.pb.gz --diff-base a.pb.gz`."))
    if last.stacks is not None and first.stacks is not None \
            and last.stacks - first.stacks >= STACK_GROWTH:
        found.append(Finding(
            kind="goroutines",
            title=f"Goroutine stacks grow: {format_bytes(first.stacks)} → "
                  f"{format_bytes(last.stacks)} scanned per cycle",
            evidence="`MB stacks` of gctrace is the stack memory scanned by each cycle; it "
                     "rises when goroutines pile up (or their stacks deepen)",
            advice="Look for goroutines that never return: "
                   "curl http://HOST/debug/pprof/goroutine?debug=1 groups them by the line they "
                   "wait on; give them a context with a deadline."))
    if d.gc_cpu_percent is not None and d.gc_cpu_percent >= GC_CPU_HIGH:
        found.append(Finding(
            kind="gc_cpu", title=f"The GC uses {d.gc_cpu_percent}% of the CPU",
            evidence=f"{len(cycles)} cycles, {d.per_minute or 0:.0f} per minute; pauses p99 "
                     f"{d.pause_p99_ms or 0:.2f} ms",
            advice="Allocate less per request (reuse buffers, sync.Pool), or trade memory for "
                   "CPU with a higher GOGC (with GOMEMLIMIT as a ceiling)."))
    if d.forced:
        found.append(Finding(
            kind="forced_gc", title=f"{d.forced} of {len(cycles)} collections were forced "
                                    "(runtime.GC() or debug.FreeOSMemory())",
            evidence="`(forced)` at the end of the gctrace line",
            advice="A forced collection stops the program until it ends; drop it unless a "
                   "measurement needs it."))
    return found
