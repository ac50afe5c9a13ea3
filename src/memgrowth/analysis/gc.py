"""Garbage-collection dynamics: how often, how long, how much of the wall time, and how the
rate of collections follows the heap over time."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from memgrowth.analysis.series import RunSeries

TIMELINE_BINS = 20


@dataclass
class GcDynamics:
    collections: int
    per_minute: float | None
    pause_p50_ms: float | None
    pause_p95_ms: float | None
    pause_p99_ms: float | None
    pause_max_ms: float | None
    time_fraction: float | None  # share of wall time spent collecting, busiest process
    by_generation: dict[int, dict[str, float]] = field(default_factory=dict)
    # (bin start s, collections per minute, mean Python heap in allocated blocks)
    timeline: list[tuple[float, float, float | None]] = field(default_factory=list)


def _ms(values: np.ndarray, q: float) -> float:
    return round(float(np.percentile(values, q)) * 1000, 3)


def gc_dynamics(run: RunSeries) -> GcDynamics | None:
    """GC figures from the agents' events; None when no Python agent reported."""
    if not any(p.has_agent for p in run.processes.values()):
        return None
    durations = run.gc_duration[np.isfinite(run.gc_duration)]
    count = len(run.gc_t)
    minutes = run.duration_s / 60 if run.duration_s > 0 else None
    result = GcDynamics(
        collections=count,
        per_minute=round(count / minutes, 2) if minutes else None,
        pause_p50_ms=_ms(durations, 50) if len(durations) else None,
        pause_p95_ms=_ms(durations, 95) if len(durations) else None,
        pause_p99_ms=_ms(durations, 99) if len(durations) else None,
        pause_max_ms=_ms(durations, 100) if len(durations) else None,
        time_fraction=None,
    )
    if run.duration_s > 0 and count:
        busiest = max(float(np.nansum(run.gc_duration[run.gc_pid == p]))
                      for p in np.unique(run.gc_pid))
        result.time_fraction = round(busiest / run.duration_s, 5)
    for generation in (0, 1, 2):
        mask = run.gc_generation == generation
        if mask.any():
            pauses = run.gc_duration[mask]
            result.by_generation[generation] = {
                "collections": int(mask.sum()),
                "per_minute": round(int(mask.sum()) / minutes, 2) if minutes else 0.0,
                "pause_p99_ms": _ms(pauses, 99), "pause_max_ms": _ms(pauses, 100),
            }
    result.timeline = _timeline(run)
    return result


def _timeline(run: RunSeries) -> list[tuple[float, float, float | None]]:
    if run.duration_s <= 0:
        return []
    edges = np.linspace(0.0, run.duration_s, TIMELINE_BINS + 1)
    width_min = (edges[1] - edges[0]) / 60
    counts, _ = np.histogram(run.gc_t, bins=edges)
    heap_t = np.concatenate([p.agent_t for p in run.processes.values() if p.has_agent])
    heap = np.concatenate([p.agent["allocated_blocks"] for p in run.processes.values()
                           if p.has_agent])
    timeline = []
    for i in range(TIMELINE_BINS):
        inside = (heap_t >= edges[i]) & (heap_t < edges[i + 1]) & np.isfinite(heap)
        mean_heap = float(heap[inside].mean()) if inside.any() else None
        timeline.append((round(float(edges[i]), 3), round(counts[i] / width_min, 2), mean_heap))
    return timeline
