"""Series thinned for drawing, extremes kept (pure).

A day at one sample a second is 86,400 points per series; a chart a person reads is a few
thousand pixels wide. Each of `buckets` equal time slices keeps its lowest and its highest
point, in time order: the peaks and the floor stay where they were, spikes are not smoothed
away, and a report of a day-long recording stays a few megabytes.
"""

from __future__ import annotations

import numpy as np

BUCKETS = 1500


def min_max(t: np.ndarray, y: np.ndarray, buckets: int = BUCKETS) -> tuple[np.ndarray,
                                                                         np.ndarray]:
    """(t, y) with at most 2 x buckets points: each slice's minimum and maximum."""
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    known = np.isfinite(t) & np.isfinite(y)
    t, y = t[known], y[known]
    if len(t) <= 2 * buckets:
        return t, y
    order = np.argsort(t, kind="stable")
    t, y = t[order], y[order]
    edges = np.linspace(t[0], t[-1], buckets + 1)
    slot = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, buckets - 1)
    starts = np.flatnonzero(np.r_[True, slot[1:] != slot[:-1]])
    ends = np.r_[starts[1:], len(t)]
    keep = []
    for start, end in zip(starts, ends, strict=True):
        part = y[start:end]
        low, high = start + int(np.argmin(part)), start + int(np.argmax(part))
        keep.extend(sorted({low, high}))
    index = np.array(keep, dtype=int)
    return t[index], y[index]


def align(series: dict[str, tuple[np.ndarray, np.ndarray]], buckets: int = BUCKETS,
          exact_up_to: int = 6000) -> tuple[list[float], dict[str, list[float | None]]]:
    """Series with their own times on one shared x axis (what a chart draws from), missing
    values None. Short series keep their exact times; long ones fall on a grid of two points
    per slice (the slice's extremes, in time order)."""
    known = {name: (np.asarray(t, dtype=float), np.asarray(y, dtype=float))
             for name, (t, y) in series.items()}
    known = {name: (t[np.isfinite(t) & np.isfinite(y)], y[np.isfinite(t) & np.isfinite(y)])
             for name, (t, y) in known.items()}
    times = np.unique(np.concatenate([t for t, _ in known.values()] or [np.zeros(0)]))
    if len(times) <= exact_up_to:
        index = {float(v): i for i, v in enumerate(times)}
        columns: dict[str, list[float | None]] = {}
        for name, (t, y) in known.items():
            column: list[float | None] = [None] * len(times)
            for ti, yi in zip(t, y, strict=True):
                column[index[float(ti)]] = float(yi)
            columns[name] = column
        return [float(v) for v in times], columns
    start, end = float(times[0]), float(times[-1])
    width = (end - start) / buckets or 1.0
    grid = [start + width * (i // 2) + width * (0.25 if i % 2 == 0 else 0.75)
            for i in range(2 * buckets)]
    columns = {}
    for name, (t, y) in known.items():
        column: list[float | None] = [None] * (2 * buckets)
        order = np.argsort(t, kind="stable")
        t, y = t[order], y[order]
        slot = np.clip(((t - start) / width).astype(int), 0, buckets - 1)
        starts = np.flatnonzero(np.r_[True, slot[1:] != slot[:-1]]) if len(t) else []
        for begin, finish in zip(starts, [*starts[1:], len(t)], strict=True):
            part = y[begin:finish]
            low, high = int(np.argmin(part)), int(np.argmax(part))
            first, second = sorted((low, high))
            column[2 * slot[begin]] = float(part[first])
            column[2 * slot[begin] + 1] = float(part[second])
        columns[name] = column
    return grid, columns
