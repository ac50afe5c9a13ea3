"""The short account of a recording: how long, how big at start, peak and end, how it ended."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from memgrowth.recording import Recording


@dataclass
class RunSummary:
    """Figures of a whole run, computed from the recording alone."""

    command: list[str]
    root_pid: int | None
    duration_s: float
    os_ticks: int
    processes: int
    python_processes: int
    baseline_rss: int | None
    peak_rss: int | None
    peak_rss_t: float | None
    final_rss: int | None
    python_blocks_first: int | None
    python_blocks_last: int | None
    gc_collections: int | None
    gc_events: int
    gc_pause_max_s: float | None
    cgroup_limit: int | None
    exit_code: int | None
    exit_signal: str | None
    oom_killed: bool
    stop_reason: str | None
    damaged: list[str] = field(default_factory=list)


def tree_rss_by_tick(recording: Recording) -> list[tuple[float, int]]:
    """Total RSS of the process tree at each sampling tick, in time order."""
    totals: dict[float, int] = defaultdict(int)
    for row in recording.rows("os_samples"):
        if row["rss"] is not None:
            totals[row["t"]] += row["rss"]
    return sorted(totals.items())


def _per_pid_first_last(rows: list[dict[str, Any]], column: str) -> tuple[int | None, int | None]:
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for row in rows:
        value = row.get(column)
        if value is None:
            continue
        first.setdefault(row["pid"], value)
        last[row["pid"]] = value
    return (sum(first.values()) if first else None, sum(last.values()) if last else None)


def summarize(recording: Recording) -> RunSummary:
    """Summarize a recording (possibly cut off): never raises on missing parts."""
    meta = recording.meta
    ticks = tree_rss_by_tick(recording)
    peak = max(ticks, key=lambda p: p[1]) if ticks else None
    agent_rows = recording.rows("agent_samples")
    blocks_first, blocks_last = _per_pid_first_last(agent_rows, "allocated_blocks")
    collections = None
    last_per_pid: dict[int, dict[str, Any]] = {}
    for row in agent_rows:
        last_per_pid[row["pid"]] = row
    if last_per_pid:
        collections = sum(
            sum(r.get(f"gc_collections{g}") or 0 for g in range(3)) for r in last_per_pid.values()
        )
    pauses = [r["duration_s"] for r in recording.rows("gc_events") if r["duration_s"] is not None]
    exits = [e for e in recording.events("exit") if e["pid"] == recording.root_pid]
    exit_detail = exits[-1]["detail"] if exits else {}
    stops = recording.events("stop")
    limits = [r["cgroup_limit"] for r in recording.rows("host_samples") if r["cgroup_limit"]]
    times = [r["t"] for table in ("os_samples", "agent_samples", "events")
             for r in recording.rows(table) if r["t"] is not None]
    duration = meta.get("duration_s")
    if duration is None:
        duration = max(times) if times else 0.0
    return RunSummary(
        command=list(meta.get("command") or []),
        root_pid=recording.root_pid,
        duration_s=float(duration),
        os_ticks=len(ticks),
        processes=len({p.pid for p in recording.processes}),
        python_processes=len({p.pid for p in recording.processes if p.runtime == "python"}),
        baseline_rss=ticks[0][1] if ticks else None,
        peak_rss=peak[1] if peak else None,
        peak_rss_t=peak[0] if peak else None,
        final_rss=ticks[-1][1] if ticks else None,
        python_blocks_first=blocks_first,
        python_blocks_last=blocks_last,
        gc_collections=collections,
        gc_events=len(pauses),
        gc_pause_max_s=max(pauses) if pauses else None,
        cgroup_limit=limits[-1] if limits else None,
        exit_code=exit_detail.get("code", meta.get("exit_code")),
        exit_signal=exit_detail.get("signal", meta.get("exit_signal")),
        oom_killed=bool(exit_detail.get("oom_killed", meta.get("oom_killed")))
        or bool(recording.events("oom_kill")),
        stop_reason=stops[-1]["detail"].get("reason") if stops else None,
        damaged=list(recording.damaged),
    )
