"""What the HTML report's charts draw, from a diagnosis and its series (pure).

Each chart is a dict the page's script turns into a uPlot chart: a shared x axis (seconds),
series with a label, an axis ("bytes" or "count") and a style, and optional marks (GC
events). Series are thinned for display with their extremes kept (downsample.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from memgrowth.analysis.diagnose import Diagnosis
from memgrowth.analysis.go import heap_after_gc
from memgrowth.analysis.series import ProcessSeries, RunSeries
from memgrowth.report.downsample import align, min_max
from memgrowth.units import format_bytes

MAX_MARKS = 4000
FORECAST_HORIZON = 1.0  # draw the forecast at most this many run lengths past the end
LIMIT_IN_VIEW = 4.0  # show the limit line when it is within this many times the peak

Series = tuple[np.ndarray, np.ndarray]


def series_spec(label: str, axis: str, style: str, show: bool = True) -> dict[str, Any]:
    return {"label": label, "axis": axis, "style": style, "show": show}


def chart_spec(chart_id: str, title: str, parts: list[tuple[dict[str, Any], Series]],
           marks: list[dict[str, Any]] | None = None, kind: str = "time") -> dict[str, Any]:
    x, columns = align({str(i): data for i, (_, data) in enumerate(parts)})
    series = [{**spec, "values": columns[str(i)]} for i, (spec, _) in enumerate(parts)]
    return {"id": chart_id, "title": title, "kind": kind, "x": x, "series": series,
            "marks": marks or []}


def _root(run: RunSeries) -> ProcessSeries | None:
    if run.root_pid in run.processes:
        return run.processes[run.root_pid]
    return next(iter(run.processes.values()), None)


def timeline(diagnosis: Diagnosis, run: RunSeries) -> dict[str, Any]:
    """Memory over time: RSS (the tree, each process selectable), USS, the language heap,
    the floor and its trend, the forecast to the limit; threads, tasks and goroutines on
    the count axis; GC events as marks."""
    parts: list[tuple[dict[str, Any], Series]] = []
    many = len(run.processes) > 1
    parts.append((series_spec("RSS, all processes" if many else "RSS", "bytes", "main"),
                  min_max(run.t, run.rss)))
    if many:
        for process in run.processes.values():
            parts.append((series_spec(f"RSS {process.label}", "bytes", "member", show=False),
                          min_max(process.t, process.rss)))
    root = _root(run)
    if root is not None and "uss" in root.os:
        parts.append((series_spec("USS", "bytes", "uss"), min_max(root.t, root.os["uss"])))
    for process in run.processes.values():
        suffix = f" {process.label}" if many else ""
        if process.has_agent and np.isfinite(process.agent.get("malloc_in_use",
                                                                np.zeros(0))).any():
            parts.append((series_spec(f"C heap (malloc in use){suffix}", "bytes", "heap"),
                          min_max(process.agent_t, process.agent["malloc_in_use"])))
        if len(process.go_t) and "heap_alloc" in process.go:
            parts.append((series_spec(f"Go HeapAlloc{suffix}", "bytes", "heap"),
                          min_max(process.go_t, process.go["heap_alloc"])))
            floor_t, floor = heap_after_gc(process)
            parts.append((series_spec(f"Go heap after GC{suffix}", "bytes", "floor"),
                          min_max(floor_t, floor)))
    rss = diagnosis.rss
    if rss is not None and rss.floor_t is not None and len(rss.floor_t):
        parts.append((series_spec("RSS floor (after collections)", "bytes", "floor"),
                      (rss.floor_t, rss.floor_y)))
        trend = rss.recent
        if trend is not None and rss.window_s:
            end = float(rss.floor_t[-1])
            start = max(end - rss.window_s, float(rss.floor_t[0]))
            ts = np.array([start, end])
            parts.append((series_spec(f"trend {_rate_label(trend.slope)}", "bytes", "trend"),
                          (ts, trend.intercept + trend.slope * ts)))
    parts += _forecast_parts(diagnosis, run)
    for process in run.processes.values():
        suffix = f" {process.label}" if many else ""
        if len(process.t):
            parts.append((series_spec(f"threads{suffix}", "count", "count", show=not many
                                  or process.pid == run.root_pid),
                          min_max(process.t, process.threads)))
        if process.has_agent and np.nanmax(np.r_[process.agent.get("asyncio_tasks",
                                                                   np.zeros(0)), 0]) > 0:
            parts.append((series_spec(f"asyncio tasks{suffix}", "count", "count"),
                          min_max(process.agent_t, process.agent["asyncio_tasks"])))
        if "goroutines" in process.go:
            parts.append((series_spec(f"goroutines{suffix}", "count", "count"),
                          min_max(process.go_t, process.go["goroutines"])))
    return chart_spec("timeline", "Memory over time", parts, gc_marks(run))


def _rate_label(slope: float) -> str:
    return f"{format_bytes(slope * 60, signed=True)}/min"


def _forecast_parts(diagnosis: Diagnosis, run: RunSeries) -> list[tuple[dict[str, Any],
                                                                        Series]]:
    """The floor's trend carried on to the limit (shortened past one run length), and the
    limit itself when the chart's scale can show it."""
    forecast = diagnosis.forecast
    parts: list[tuple[dict[str, Any], Series]] = []
    limit = forecast.limit_bytes
    end = float(run.t[-1]) if len(run.t) else 0.0
    peak = float(np.nanmax(run.rss)) if len(run.rss) else 0.0
    crossing = forecast.seconds_to_limit
    level, rate = forecast.level_bytes, diagnosis.rss.rate if diagnosis.rss else None
    drawn_to = None
    reaches = False  # the forecast line meets the limit inside the chart
    if crossing is not None and level is not None and rate and end > 0:
        horizon = min(crossing, FORECAST_HORIZON * end)
        drawn_to = end + horizon
        reaches = crossing <= FORECAST_HORIZON * end
        label = "forecast: the limit in " + _duration_label(crossing)
        parts.append((series_spec(label, "bytes", "forecast"),
                      (np.array([end, drawn_to]), np.array([level, level + rate * horizon]))))
    if limit and (reaches or peak * LIMIT_IN_VIEW >= limit):
        span = np.array([0.0, drawn_to or end])
        parts.append((series_spec(f"limit ({forecast.limit_source})", "bytes", "limit"),
                      (span, np.array([limit, limit], dtype=float))))
    return parts


def _duration_label(seconds: float) -> str:
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def gc_marks(run: RunSeries) -> list[dict[str, Any]]:
    """Collections as marks on the time axis: Python's older generations (the young one is
    too frequent to see), Go's cycles from its trace."""
    marks = []
    if len(run.gc_t):
        older = run.gc_generation >= 1
        for t, generation in zip(run.gc_t[older], run.gc_generation[older], strict=True):
            marks.append({"t": float(t), "level": int(generation)})
    for process in run.processes.values():
        for t in process.gctrace_t:
            marks.append({"t": float(t), "level": 2})
    if len(marks) > MAX_MARKS:
        step = len(marks) // MAX_MARKS + 1
        marks = sorted(marks, key=lambda m: m["t"])[::step]
    return marks


def python_heap(diagnosis: Diagnosis, run: RunSeries) -> dict[str, Any] | None:
    """The Python heap in allocated blocks, with the floor after collections and its trend."""
    parts: list[tuple[dict[str, Any], Series]] = []
    many = len(run.processes) > 1
    for process in run.processes.values():
        if not process.has_agent:
            continue
        suffix = f" {process.label}" if many else ""
        parts.append((series_spec(f"allocated blocks{suffix}", "count", "main"),
                      min_max(process.agent_t, process.agent["allocated_blocks"])))
        assessment = diagnosis.heap.get(process.pid)
        if assessment is not None and assessment.floor_t is not None \
                and len(assessment.floor_t) and len(process.go_t) == 0:
            parts.append((series_spec(f"floor after collections{suffix}", "count", "floor"),
                          (assessment.floor_t, assessment.floor_y)))
    if not parts:
        return None
    return chart_spec("python-heap", "Python heap (allocated blocks)", parts, gc_marks(run))


def gc_rate(diagnosis: Diagnosis, run: RunSeries) -> dict[str, Any] | None:
    """Collections per minute against the heap, over time."""
    parts: list[tuple[dict[str, Any], Series]] = []
    gc = diagnosis.gc
    if gc is not None and gc.timeline:
        t = np.array([row[0] for row in gc.timeline], dtype=float)
        parts.append((series_spec("collections per minute", "count", "bars"),
                      (t, np.array([row[1] for row in gc.timeline], dtype=float))))
        heap = np.array([np.nan if row[2] is None else row[2] for row in gc.timeline])
        if np.isfinite(heap).any():
            parts.append((series_spec("Python heap (allocated blocks)", "count2", "heap"),
                          (t, heap)))
    for process in run.processes.values():
        numbers = process.go.get("num_gc")
        if numbers is None or len(numbers) < 3:
            continue
        t = process.go_t
        rate = np.diff(numbers) / np.maximum(np.diff(t), 1e-9) * 60
        parts.append((series_spec("Go collections per minute", "count", "bars"),
                      (t[1:], rate)))
        parts.append((series_spec("Go HeapAlloc", "bytes", "heap"),
                      min_max(t, process.go["heap_alloc"])))
    if not parts:
        return None
    return chart_spec("gc-rate", "Collections per minute against the heap", parts)


def pause_histogram(run: RunSeries) -> dict[str, Any] | None:
    """How long collections took: counts per duration bucket (log-spaced, milliseconds)."""
    durations = run.gc_duration[np.isfinite(run.gc_duration)] * 1000 if len(
        run.gc_duration) else np.zeros(0)
    for process in run.processes.values():
        pauses = process.gctrace.get("pause_ms")
        if pauses is not None:
            durations = np.r_[durations, pauses[np.isfinite(pauses)]]
    durations = durations[durations > 0]
    if len(durations) < 2:
        return None
    edges = np.geomspace(max(durations.min(), 1e-3), durations.max() * 1.0001, 25)
    counts, _ = np.histogram(durations, bins=edges)
    centers = np.sqrt(edges[:-1] * edges[1:])
    chart = chart_spec("pauses", "How long collections took", [
        (series_spec("collections", "count", "bars"), (centers, counts.astype(float)))],
        kind="ms-log")
    return chart
