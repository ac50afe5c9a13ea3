"""A GC log's diagnosis for people (terminal) and programs (JSON `memgrowth.diagnosis/1`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from memgrowth.analysis.diagnose import SCHEMA
from memgrowth.analysis.gctrace import GcTraceDiagnosis
from memgrowth.report.terminal import render_findings, render_forecast, render_verdict
from memgrowth.units import format_bytes, format_duration

TIMELINE_ROWS = 12
FINDING_KINDS = ("container", "site", "type", "threads", "tasks", "goroutines", "native",
                 "gc_disabled", "fragmentation", "child_process")


def render(diagnosis: GcTraceDiagnosis, console: Console, source: str) -> None:
    """Verdict, findings, GC dynamics, then the cycles (a few, evenly spread)."""
    render_verdict(console, diagnosis.verdict, diagnosis.confidence, diagnosis.growth.rate,
                   diagnosis.growth.rate_ci95, diagnosis.growth.pattern, diagnosis.reason)
    render_forecast(console, diagnosis.forecast)
    render_findings(console, diagnosis.findings)
    cycles = diagnosis.cycles
    if not cycles:
        console.print(Text(f"no GODEBUG=gctrace=1 lines in {source}", style="yellow"))
        return
    rate = diagnosis.per_minute or 0.0
    trend = ""
    if diagnosis.per_minute_first and diagnosis.per_minute_last:
        trend = (f" ({diagnosis.per_minute_first:,.0f} → {diagnosis.per_minute_last:,.0f} "
                 "from the first to the last third)")
    console.print(Text(
        f"GC: {len(cycles):,} cycles over {format_duration(diagnosis.duration_s)}, "
        f"{rate:,.0f}/min{trend}; stop-the-world pauses p50 {diagnosis.pause_p50_ms:.3f} ms, "
        f"p99 {diagnosis.pause_p99_ms:.3f} ms, max {diagnosis.pause_max_ms:.3f} ms; "
        f"{diagnosis.gc_cpu_percent}% of CPU in GC", style="dim"))
    if diagnosis.runs > 1:
        console.print(Text(f"{diagnosis.runs} runs of the program in {source}: the last one is "
                           "diagnosed", style="dim"))
    table = Table(box=None, padding=(0, 1))
    for column in ("gc", "at", "heap start", "end", "live", "goal", "pause", "GC CPU"):
        table.add_column(column, justify="right")
    step = max(1, len(cycles) // TIMELINE_ROWS)
    shown = cycles[::step]
    if shown[-1] is not cycles[-1]:
        shown.append(cycles[-1])
    for cycle in shown:
        table.add_row(str(cycle.number), f"{cycle.at_s:.3f} s", format_bytes(cycle.heap_start),
                      format_bytes(cycle.heap_end), format_bytes(cycle.heap_live),
                      format_bytes(cycle.goal), f"{cycle.pause_ms:.3f} ms",
                      f"{cycle.cpu_percent}%" + (" forced" if cycle.forced else ""))
    console.print(table)


def to_dict(diagnosis: GcTraceDiagnosis) -> dict[str, Any]:
    """The diagnosis in the shape of memgrowth.diagnosis/1 (fields a log cannot tell: null)."""
    cycles = diagnosis.cycles
    growth = diagnosis.growth
    forecast = diagnosis.forecast
    return {
        "schema": SCHEMA,
        "target": {"pid": None, "runtime": "go", "command": None, "processes": 1},
        "duration_s": round(diagnosis.duration_s, 3),
        "exit": {"code": None, "signal": None, "oom_killed": None},
        "baseline": {"rss_bytes": None, "heap_bytes": cycles[0].heap_live if cycles else None,
                     "objects": None, "gc_count": cycles[0].number if cycles else None},
        "peak": {"rss_bytes": None,
                 "heap_bytes": max(c.heap_end for c in cycles) if cycles else None},
        "verdict": diagnosis.verdict, "confidence": diagnosis.confidence,
        "reason": diagnosis.reason,
        "record_more_s": growth.record_more_s if diagnosis.verdict == "inconclusive" else None,
        "growth": {"pattern": growth.pattern, "metric": "heap",
                   "rate_bytes_per_s": growth.rate, "rate_ci95": growth.rate_ci95},
        "gc": {"collections": len(cycles), "per_minute": diagnosis.per_minute,
               "pause_p50_ms": diagnosis.pause_p50_ms, "pause_p99_ms": diagnosis.pause_p99_ms,
               "pause_max_ms": diagnosis.pause_max_ms,
               "time_fraction": diagnosis.gc_cpu_percent / 100
               if diagnosis.gc_cpu_percent is not None else None,
               "forced": diagnosis.forced,
               "timeline": [{"gc": c.number, "t": c.at_s, "heap_start_bytes": c.heap_start,
                             "heap_end_bytes": c.heap_end, "heap_live_bytes": c.heap_live,
                             "goal_bytes": c.goal, "stacks_bytes": c.stacks,
                             "globals_bytes": c.globals, "pause_ms": c.pause_ms,
                             "cpu_percent": c.cpu_percent, "forced": c.forced}
                            for c in cycles]},
        "forecast": {"limit_bytes": forecast.limit_bytes, "limit_source": forecast.limit_source,
                     "seconds_to_limit": forecast.seconds_to_limit,
                     "seconds_to_limit_ci95": forecast.seconds_to_limit_ci95},
        # The contract's finding kinds; the log's other observations (the live heap's
        # growth, GC CPU, forced collections) are notes beside them.
        "findings": [dataclasses.asdict(f) for f in diagnosis.findings
                     if f.kind in FINDING_KINDS],
        "notes": [dataclasses.asdict(f) for f in diagnosis.findings
                  if f.kind not in FINDING_KINDS],
    }
