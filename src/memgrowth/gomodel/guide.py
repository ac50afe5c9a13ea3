"""The Go GC guide's own model, to reproduce its published figures (pure).

The guide (go.dev/doc/gc-guide) explains GOGC and GOMEMLIMIT with an interactive,
stop-the-world model: a workload is phases of {duration (CPU-seconds), allocRate (MiB/s),
scanRate (MiB per CPU-second), newSurvivalRate, oldDeathRate}; the heap goal is
live x (1 + GOGC/100), at least 4 MiB (unless GOGC=off) and live + 1/16 MiB, cut to the
memory limit less the program's other memory; when live + new heap reaches the goal, a
collection costs live/scanRate + a fixed cost and the new heap's survivors (at the rate of
the phase it runs in) join the live heap, the old heap's deaths (pro rata over a phase)
leave it. Peak memory is the largest other + live + new.
This is not how memgrowth predicts a real runtime (simulate.py is); it is how the guide's
numbers come about, so they can be checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MIN_GOAL_MIB = 4.0
MIN_RUNWAY_MIB = 0.0625


@dataclass(frozen=True)
class GuidePhase:
    duration: float  # CPU-seconds of the program
    alloc_rate: float  # MiB per second
    scan_rate: float  # MiB per CPU-second
    new_survival: float
    old_death: float

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> GuidePhase:
        return cls(float(raw["duration"]), float(raw["allocRate"]), float(raw["scanRate"]),
                   float(raw["newSurvivalRate"]), float(raw["oldDeathRate"]))


@dataclass(frozen=True)
class GuideResult:
    peak_mib: float
    gc_cpu_fraction: float  # GC time over all time
    collections: int


def guide_model(phases: list[GuidePhase], gogc: float | None = 100.0,
                memory_limit_mib: float = float("inf"), other_mib: float = 0.0,
                fixed_cost_s: float = 0.04) -> GuideResult:
    """Run the guide's model; GOGC None is off."""
    live = new = dying = 0.0  # dying: old heap dead since the last collection
    gc_time = mutator_time = 0.0
    peak = other_mib
    collections = 0

    def goal() -> float:
        target = float("inf") if gogc is None else live * (1 + gogc / 100)
        if target + other_mib > memory_limit_mib:
            target = memory_limit_mib - other_mib
        if gogc is not None:
            target = max(target, MIN_GOAL_MIB)
        return max(target, live + MIN_RUNWAY_MIB)

    for phase in phases:
        left = phase.duration
        while left > 1e-12:
            room = goal() - (live + new)
            until_full = room / phase.alloc_rate if phase.alloc_rate > 0 else float("inf")
            step = min(left, max(until_full, 0.0))
            new += step * phase.alloc_rate
            dying = min(dying + live * phase.old_death * step / phase.duration, live)
            mutator_time += step
            left -= step
            peak = max(peak, other_mib + live + new)
            if step < until_full:
                break  # the phase ended before the heap reached its goal
            # A collection: it scans the live heap, keeps the survivors of the new heap (at
            # the rate of the phase it runs in) and frees what died of the old one.
            gc_time += live / phase.scan_rate + fixed_cost_s
            live = live - dying + new * phase.new_survival
            new = dying = 0.0
            collections += 1
    total = gc_time + mutator_time
    return GuideResult(peak, gc_time / total if total else 0.0, collections)
