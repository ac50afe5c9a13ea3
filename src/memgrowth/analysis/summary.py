"""The short account of a recording: how long, how big at start, peak and end, how it ended."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from memgrowth.analysis.series import RunSeries, from_recording
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
    cgroup_limit: int | None
    exit_code: int | None
    exit_signal: str | None
    oom_killed: bool
    stop_reason: str | None
    damaged: list[str] = field(default_factory=list)


def tree_rss_by_tick(recording: Recording) -> list[tuple[float, int]]:
    """Total RSS of the process tree at each sampling tick, in time order."""
    run = from_recording(recording)
    return [(float(t), int(v)) for t, v in zip(run.t, run.rss, strict=True)]


def _first_last_per_pid(pids: list, values: list) -> tuple[int | None, int | None]:
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for pid, value in zip(pids, values, strict=True):
        if value is None:
            continue
        first.setdefault(pid, value)
        last[pid] = value
    return (sum(first.values()) if first else None, sum(last.values()) if last else None)


def summarize(recording: Recording, run: RunSeries | None = None) -> RunSummary:
    """Summarize a recording (possibly cut off): never raises on missing parts."""
    run = run or from_recording(recording)
    meta = recording.meta
    agent = recording.tables.get("agent_samples", {})
    pids = agent.get("pid", [])
    blocks_first, blocks_last = _first_last_per_pid(pids, agent.get("allocated_blocks", []))
    exits = [e for e in recording.events("exit") if e["pid"] == recording.root_pid]
    exit_detail = exits[-1]["detail"] if exits else {}
    stops = recording.events("stop")
    peak = int(np.argmax(run.rss)) if len(run.rss) else None
    return RunSummary(
        command=list(meta.get("command") or []),
        root_pid=recording.root_pid,
        duration_s=run.duration_s,
        os_ticks=len(run.t),
        processes=len({p.pid for p in recording.processes}),
        python_processes=len({p.pid for p in recording.processes if p.runtime == "python"}),
        baseline_rss=int(run.rss[0]) if len(run.rss) else None,
        peak_rss=int(run.rss[peak]) if peak is not None else None,
        peak_rss_t=float(run.t[peak]) if peak is not None else None,
        final_rss=int(run.rss[-1]) if len(run.rss) else None,
        python_blocks_first=blocks_first,
        python_blocks_last=blocks_last,
        cgroup_limit=run.cgroup_limit,
        exit_code=exit_detail.get("code", meta.get("exit_code")),
        exit_signal=exit_detail.get("signal", meta.get("exit_signal")),
        oom_killed=bool(exit_detail.get("oom_killed", meta.get("oom_killed")))
        or bool(recording.events("oom_kill")),
        stop_reason=stops[-1]["detail"].get("reason") if stops else None,
        damaged=list(recording.damaged),
    )
