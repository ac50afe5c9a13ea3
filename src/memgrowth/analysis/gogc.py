"""A Go recording turned into a workload the Go model can replay (pure).

What the model needs, read from the MemStats polls: how fast the service allocates
(TotalAlloc over time), how big its objects are on average (TotalAlloc / Mallocs), the heap
it keeps alive (the heap right after each collection: its floor at the start and at the
end), its goroutine stacks, and the GC setting it ran with (its GOGC / GOMEMLIMIT as the
recorder read them from its environment; Go's defaults otherwise). The workload is a heap of
the starting floor, built first and left out of the figures, then the recorded duration in
ten slices of churn, each adding a tenth of the floor's growth. A service allocates in
bursts (a request's worth at full speed, then it waits): the model allocates at the
recorded average rate, with the trigger where bursts put it (costs.py), and how much of the
heap needs scanning is set so the model spends the GC CPU the service did.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from memgrowth.analysis.go import heap_after_gc
from memgrowth.analysis.series import ProcessSeries
from memgrowth.errors import UserError
from memgrowth.gomodel.costs import Costs
from memgrowth.gomodel.pacer import Pacer, parse_gogc
from memgrowth.gomodel.simulate import simulate
from memgrowth.gomodel.spec import Phase
from memgrowth.gomodel.whatif import Setting
from memgrowth.units import parse_size

SLICES = 10
MIN_POLLS = 5
ROUND_GOGC = (10, 20, 25, 30, 40, 50, 75, 80, 100, 120, 150, 200, 250, 300, 400, 500, 800,
              1000)


class NotEnoughData(ValueError):
    """The recording cannot give a workload; the message says what is missing."""


@dataclass(frozen=True)
class RecordedWorkload:
    phases: list[Phase]
    measure_from: int  # the phases before it only build the starting heap
    costs: Costs  # the service's rate, in bursts; marking scaled to its recorded GC CPU
    setting: Setting  # what the service ran with
    setting_source: str  # "environment" or "Go's default"
    gomaxprocs: int
    stacks_bytes: float
    duration_s: float
    allocation_rate: float  # bytes per second
    object_bytes: int
    live_start_bytes: float
    live_end_bytes: float
    recorded_gc: int
    recorded_peak_heap_bytes: float
    recorded_gc_cpu_fraction: float | None  # MemStats.GCCPUFraction at the end


def _floor(values: np.ndarray, at_start: bool) -> float:
    part = values[: max(len(values) // 5, 3)] if at_start else values[-max(len(values) // 5, 3):]
    return float(np.median(part))


def inferred_gogc(process: ProcessSeries) -> int | None:
    """GOGC as the service really runs it (a program may call debug.SetGCPercent): the
    heap goal (NextGC) over the heap right after each collection. That heap is the live one,
    while the goal was set from what the cycle marked, floating garbage included, so the
    ratio reads high: its 10th percentile, snapped (on a log scale) to the round value
    people set when one is within 20%."""
    floor_t, floor = heap_after_gc(process)
    goal = process.go.get("next_gc")
    if goal is None or len(floor) < MIN_POLLS:
        return None
    at = np.clip(np.searchsorted(process.go_t, floor_t), 0, len(goal) - 1)
    ratios = (goal[at] / floor - 1) * 100
    ratios = ratios[np.isfinite(ratios) & (floor > 0) & (ratios > 0)]
    if len(ratios) < MIN_POLLS:
        return None
    estimate = float(np.percentile(ratios, 10))
    nearest = min(ROUND_GOGC, key=lambda v: abs(np.log(v / estimate)))
    if abs(nearest - estimate) <= 0.2 * nearest:
        return nearest
    return int(float(f"{estimate:.2g}"))


def recorded_setting(env: dict[str, str], inferred: int | None = None) -> tuple[Setting, str]:
    """The GC setting: GOMEMLIMIT from the environment; GOGC from the environment when the
    heap's goals agree with it, else as the goals show it, else Go's default."""
    told: int | None = None
    told_off = env.get("GOGC", "").strip().lower() == "off"
    try:
        told = parse_gogc(env["GOGC"]) if "GOGC" in env and not told_off else None
        limit_text = env.get("GOMEMLIMIT", "").strip()
        limit = None if limit_text in ("", "off") else parse_size(limit_text)
    except (ValueError, UserError):
        told, told_off, limit = None, False, None
    if told_off:
        return Setting(None, limit), "environment"
    if told is not None and (inferred is None or abs(inferred - told) <= 0.25 * told):
        return Setting(told, limit), "environment"
    if inferred is not None:
        return Setting(inferred, limit), "inferred from its heap goals, NextGC"
    return Setting(100, limit), "Go's default"


def recorded_workload(process: ProcessSeries, env: dict[str, str],
                      cpu_count: int | None) -> RecordedWorkload:
    """The workload and setting of one Go process's recording."""
    go = process.go
    total, mallocs, gcs = (go.get(c) for c in ("total_alloc", "mallocs", "num_gc"))
    if total is None or mallocs is None or gcs is None:
        raise NotEnoughData("this recording has no Go MemStats (record the service with its "
                            "/debug/vars endpoint: `memgrowth run --endpoint URL`)")
    known = np.isfinite(total) & np.isfinite(mallocs) & np.isfinite(gcs)
    if known.sum() < MIN_POLLS:
        raise NotEnoughData(f"only {int(known.sum())} Go MemStats polls recorded; at least "
                            f"{MIN_POLLS} are needed")
    t = process.go_t[known]
    duration = float(t[-1] - t[0])
    allocated = float(total[known][-1] - total[known][0])
    objects = float(mallocs[known][-1] - mallocs[known][0])
    if duration <= 0 or allocated <= 0 or objects <= 0:
        raise NotEnoughData("the service allocated nothing while it was recorded")
    floor_t, floor = heap_after_gc(process)
    if len(floor) < 2:
        raise NotEnoughData("the recording has too few heap samples to find the live heap")
    size = max(int(round(allocated / objects)), 8)
    live_start, live_end = _floor(floor, True), _floor(floor, False)
    rate = allocated / duration
    growth = max(live_end - live_start, 0.0) / SLICES
    per_slice = max(int(allocated / SLICES / size), 1)
    phases = [Phase(max(int(live_start / size), 1), size, "all", pointers=True)]
    phases += [Phase(per_slice, size, "ring", ring=min(int(growth / size), per_slice),
                     pointers=True) for _ in range(SLICES)]
    setting, source = recorded_setting(env, inferred_gogc(process))
    gomaxprocs = max(int(env["GOMAXPROCS"]) if env.get("GOMAXPROCS", "").isdigit()
                     else (cpu_count or 2), 1)
    stacks_series = go.get("stack_inuse")
    stacks = float(np.nanmedian(stacks_series)) if stacks_series is not None and \
        np.isfinite(stacks_series).any() else 0.0
    heap = go.get("heap_alloc", np.zeros(0))
    fraction = _last(go.get("gc_cpu_fraction"))
    costs = _calibrated(phases, setting, Costs().for_service(rate), fraction,
                        duration * gomaxprocs, gomaxprocs, stacks)
    return RecordedWorkload(
        phases=phases, measure_from=1, costs=costs, setting=setting,
        setting_source=source, gomaxprocs=gomaxprocs, stacks_bytes=stacks,
        duration_s=duration, allocation_rate=rate, object_bytes=size,
        live_start_bytes=live_start, live_end_bytes=live_end,
        recorded_gc=int(gcs[known][-1] - gcs[known][0]),
        recorded_peak_heap_bytes=float(np.nanmax(heap)) if np.isfinite(heap).any() else 0.0,
        recorded_gc_cpu_fraction=fraction)


def _calibrated(phases: list[Phase], setting: Setting, costs: Costs, fraction: float | None,
                cpu_s: float, gomaxprocs: int, stacks: float) -> Costs:
    """How much of the heap needs scanning is not in MemStats; the GC CPU the service spent
    is. The scan share that makes the model spend that GC CPU at the recorded setting."""
    if not fraction or cpu_s <= 0:
        return costs
    pacer = Pacer(setting.gogc, setting.memory_limit)
    spent = [simulate(phases, pacer, replace(costs, scan_scale=scale), gomaxprocs, stacks,
                      measure_from=1).gc_cpu_s / cpu_s for scale in (0.0, 1.0)]
    if spent[1] <= spent[0]:
        return costs
    scale = (fraction - spent[0]) / (spent[1] - spent[0])
    return replace(costs, scan_scale=min(max(scale, 0.0), 1.0))


def _last(values: np.ndarray | None) -> float | None:
    if values is None:
        return None
    known = values[np.isfinite(values)]
    return float(known[-1]) if len(known) else None
