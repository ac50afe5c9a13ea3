"""The recording as arrays: the tree's RSS per tick, each process's OS and agent series.

Everything the analysis needs, in numpy arrays sorted by time, so that a day at one sample
a second is analysed in well under a second.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from memgrowth.recording import TABLES, ProcessInfo, Recording

OS_COLUMNS = ("uss", "pss", "swap", "rss_anon", "rss_file", "rss_shmem")
AGENT_COLUMNS = ("allocated_blocks", "threads", "asyncio_tasks", "gc_enabled", "gc_objects",
                 "malloc_in_use", "malloc_free", "gc_collections0", "gc_collections1",
                 "gc_collections2")


@dataclass(frozen=True)
class AttributionRow:
    """One item of an attribution report: a container, a site, a thread group…"""

    t: float
    key: str
    count: float | None
    bytes: float | None
    detail: dict[str, Any]


@dataclass
class ProcessSeries:
    """One process: its OS samples and, for Python processes, its agent samples."""

    pid: int
    command: list[str]
    runtime: str | None
    t: np.ndarray
    rss: np.ndarray
    threads: np.ndarray
    # The OS probe's other columns (OS_COLUMNS), on the same times as t.
    os: dict[str, np.ndarray] = field(default_factory=dict)
    agent_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    agent: dict[str, np.ndarray] = field(default_factory=dict)
    post_gc_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    post_gc_heap: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # Promotion histograms: per report, objects (and bytes) of a type about to be promoted.
    types: dict[str, list[tuple[float, int, int, float]]] = field(default_factory=dict)
    # The agent's attribution reports by kind (container, site, join, threads, tasks, cycles,
    # census), each in time order.
    attribution: dict[str, list[AttributionRow]] = field(default_factory=dict)
    # The Go probe: MemStats columns per poll, and the first and last profile of each kind.
    go_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    go: dict[str, np.ndarray] = field(default_factory=dict)
    go_profiles: dict[str, list[tuple[float, bytes]]] = field(default_factory=dict)
    # `run --gctrace`: per GC cycle, our time of the line and what it said (bytes, ms).
    gctrace_t: np.ndarray = field(default_factory=lambda: np.zeros(0))
    gctrace: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """`pid 4242 (python worker.py)`: the pid and the command as a person would say it."""
        joined = " ".join(self.command)
        if "multiprocessing.spawn" in joined or "multiprocessing-fork" in joined:
            return f"pid {self.pid} (multiprocessing worker)"
        if "multiprocessing.resource_tracker" in joined:
            return f"pid {self.pid} (multiprocessing resource tracker)"
        command = " ".join(a.rsplit("/", 1)[-1] if a.startswith("/") else a
                           for a in self.command[:4])
        return f"pid {self.pid} ({command or '?'})"

    @property
    def has_agent(self) -> bool:
        return len(self.agent_t) > 0

    @property
    def has_go(self) -> bool:
        return len(self.go_t) > 0 or len(self.gctrace_t) > 0


@dataclass
class RunSeries:
    """The whole recorded tree."""

    root_pid: int | None
    t: np.ndarray  # tick times
    rss: np.ndarray  # tree total RSS per tick
    processes: dict[int, ProcessSeries]
    gc_t: np.ndarray
    gc_pid: np.ndarray
    gc_generation: np.ndarray
    gc_duration: np.ndarray
    duration_s: float
    cgroup_limit: int | None
    mem_total: int | None
    limit_flag: int | None


def _array(values: list, dtype: type = float) -> np.ndarray:
    """A float array with None as NaN."""
    return np.array([np.nan if v is None else v for v in values], dtype=dtype)


def _by_pid(pids: np.ndarray) -> dict[int, np.ndarray]:
    return {int(p): np.flatnonzero(pids == p) for p in np.unique(pids)}


def _per_pid(table: dict[str, list], names) -> list[tuple[int, np.ndarray,
                                                         dict[str, np.ndarray]]]:
    """A table's rows split by pid: (pid, times, {column: values}) for the named columns."""
    pids = np.array(table.get("pid", []), dtype=np.int64)
    times = _array(table.get("t", []))
    arrays = {c: _array(table.get(c, [])) for c in names}
    return [(p, times[rows], {c: values[rows] for c, values in arrays.items()})
            for p, rows in _by_pid(pids).items()]


def from_recording(recording: Recording) -> RunSeries:
    """Extract the analysis series from a recording (tolerates missing parts)."""
    os_cols = recording.tables.get("os_samples", {})
    t = _array(os_cols.get("t", []))
    pid = np.array(os_cols.get("pid", []), dtype=np.int64)
    rss = _array(os_cols.get("rss", []))
    threads = _array(os_cols.get("threads", []))
    if len(t):
        ticks, inverse = np.unique(t, return_inverse=True)
        totals = np.bincount(inverse, weights=np.nan_to_num(rss))
    else:
        ticks, totals = np.zeros(0), np.zeros(0)
    info = {p.pid: p for p in recording.processes}
    processes: dict[int, ProcessSeries] = {}
    for p, rows in _by_pid(pid).items():
        known = info.get(p)
        processes[p] = ProcessSeries(p, known.cmdline if known else [],
                                     known.runtime if known else None,
                                     t[rows], rss[rows], threads[rows],
                                     os={c: _array(os_cols[c])[rows] for c in OS_COLUMNS
                                         if c in os_cols})
    agent_table = recording.tables.get("agent_samples", {})
    agent_t = _array(agent_table.get("t", []))
    for p, times, columns in _per_pid(agent_table, AGENT_COLUMNS):
        series = _process(processes, info, p, "python")
        series.runtime = "python"
        series.agent_t, series.agent = times, columns
    gc_cols = recording.tables.get("gc_events", {})
    gc_pid = np.array(gc_cols.get("pid", []), dtype=np.int64)
    gc_t = _array(gc_cols.get("t", []))
    heap_after = _array(gc_cols.get("heap_after", []))
    for p, rows in _by_pid(gc_pid).items():
        if p in processes:
            known_heap = rows[np.isfinite(heap_after[rows])]
            processes[p].post_gc_t = gc_t[known_heap]
            processes[p].post_gc_heap = heap_after[known_heap]
    type_cols = recording.tables.get("type_samples", {})
    for t_, p, name, promoted, histograms, size in zip(
            type_cols.get("t", []), type_cols.get("pid", []), type_cols.get("type_name", []),
            type_cols.get("promoted", []), type_cols.get("histograms", []),
            type_cols.get("promoted_bytes", []), strict=True):
        if p in processes and name and promoted is not None and histograms:
            processes[p].types.setdefault(name, []).append(
                (t_, promoted, histograms, float("nan") if size is None else size))
    _read_go(recording, processes, info)
    cwd = recording.meta.get("cwd")
    _read_attribution(recording, processes, cwd if isinstance(cwd, str) else None)
    host = recording.tables.get("host_samples", {})
    limits = [v for v in host.get("cgroup_limit", []) if v]
    totals_mem = [v for v in host.get("mem_total", []) if v]
    duration = recording.meta.get("duration_s")
    if not isinstance(duration, (int, float)):  # cut off before the end was written
        ends = [np.nanmax(a) for a in (t, agent_t, _array(recording.tables.get(
            "events", {}).get("t", []))) if len(a) and np.isfinite(a).any()]
        duration = float(max(ends)) if ends else 0.0
    flag = recording.meta.get("limit_flag")
    return RunSeries(
        root_pid=recording.root_pid, t=ticks, rss=totals, processes=processes,
        gc_t=gc_t, gc_pid=gc_pid, gc_generation=_array(gc_cols.get("generation", [])),
        gc_duration=_array(gc_cols.get("duration_s", [])), duration_s=float(duration),
        cgroup_limit=int(limits[-1]) if limits else None,
        mem_total=int(totals_mem[-1]) if totals_mem else None,
        limit_flag=int(flag) if isinstance(flag, (int, float)) and flag > 0 else None,
    )


def display_path(path: str, cwd: str | None) -> str:
    """A source path as a person reads it: relative to the target's working folder, or from
    the package root for the standard library and site-packages."""
    if cwd and path.startswith(cwd.rstrip("/") + "/"):
        return path[len(cwd.rstrip("/")) + 1:]
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in path:
            return path.split(marker, 1)[1]
    parts = path.split("/")
    for index, part in enumerate(parts[:-1]):
        if part.startswith("python3") and index and parts[index - 1] == "lib":
            return "/".join(parts[index + 1:])  # …/lib/python3.11/json/decoder.py
    return path


def _display_sites(detail: dict[str, Any], cwd: str | None) -> None:
    """Shorten every source path of a report's detail, in place."""
    if isinstance(detail.get("file"), str):
        detail["file"] = display_path(detail["file"], cwd)
    for name in ("started", "blocked", "innermost", "defined", "awaiting", "created"):
        site = detail.get(name)
        if isinstance(site, list) and site and isinstance(site[0], str):
            site[0] = display_path(site[0], cwd)
    for frame in detail.get("stack") or []:
        if isinstance(frame, list) and frame and isinstance(frame[0], str):
            frame[0] = display_path(frame[0], cwd)


def _read_attribution(recording: Recording, processes: dict[int, ProcessSeries],
                      cwd: str | None) -> None:
    columns = recording.tables.get("attribution", {})
    for t, p, kind, key, count, size, detail in zip(
            columns.get("t", []), columns.get("pid", []), columns.get("kind", []),
            columns.get("key", []), columns.get("count", []), columns.get("bytes", []),
            columns.get("detail", []), strict=True):
        if p not in processes or not isinstance(kind, str) or not isinstance(key, str):
            continue
        try:
            parsed = json.loads(detail) if isinstance(detail, str) else {}
        except ValueError:
            parsed = {}
        if isinstance(parsed, dict):
            _display_sites(parsed, cwd)
        processes[p].attribution.setdefault(kind, []).append(
            AttributionRow(t, key, count, size, parsed if isinstance(parsed, dict) else {}))


def _process(processes: dict[int, ProcessSeries], info: dict[int, ProcessInfo], pid: int,
             runtime: str) -> ProcessSeries:
    """The series of pid, made empty for a process only its runtime reported (the OS probe
    never saw it)."""
    series = processes.get(pid)
    if series is None:
        known = info.get(pid)
        series = processes[pid] = ProcessSeries(pid, known.cmdline if known else [], runtime,
                                                np.zeros(0), np.zeros(0), np.zeros(0))
    return series


def _read_go(recording: Recording, processes: dict[int, ProcessSeries],
             info: dict[int, ProcessInfo]) -> None:
    names = [c for c in TABLES["go_samples"] if c not in ("t", "pid")]
    for p, times, columns in _per_pid(recording.tables.get("go_samples", {}), names):
        series = _process(processes, info, p, "go")
        series.runtime = "go"
        series.go_t, series.go = times, columns
    trace = recording.tables.get("gctrace", {})
    trace_pids = np.array(trace.get("pid", []), dtype=np.int64)
    for p, rows in _by_pid(trace_pids).items():
        if p in processes:
            processes[p].runtime = "go"
            processes[p].gctrace_t = _array(trace.get("t", []))[rows]
            processes[p].gctrace = {c: _array(trace.get(c, []))[rows]
                                    for c in TABLES["gctrace"] if c not in ("t", "pid")}
    profiles = recording.tables.get("go_profiles", {})
    for t, p, kind, data in zip(profiles.get("t", []), profiles.get("pid", []),
                                profiles.get("kind", []), profiles.get("data", []), strict=True):
        if p in processes and isinstance(kind, str) and isinstance(data, bytes):
            processes[p].go_profiles.setdefault(kind, []).append((t, data))
