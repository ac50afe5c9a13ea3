"""The Go model's results for people: one simulation, and the GOGC / GOMEMLIMIT table."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from memgrowth.analysis.gogc import RecordedWorkload
from memgrowth.gomodel.simulate import Result
from memgrowth.gomodel.whatif import WhatIf
from memgrowth.units import format_bytes


def render_simulation(result: Result, label: str, console: Console) -> None:
    """Collections, peaks, the heap's pages and each size class of one simulated run."""
    console.print(
        f"[bold]{label}[/]: {result.num_gc:,} collections; peak heap "
        f"{format_bytes(result.peak_heap_alloc_bytes)} (live after marking at most "
        f"{format_bytes(result.peak_live_heap_bytes)}); allocated "
        f"{format_bytes(result.total_alloc_bytes)}; final heap "
        f"{format_bytes(result.final_heap_alloc_bytes)}, {result.heap_objects:,} live objects")
    console.print(
        f"heap pages at the end: in use {format_bytes(result.heap_inuse_bytes)}, idle "
        f"{format_bytes(result.heap_idle_bytes)}, released "
        f"{format_bytes(result.heap_released_bytes)}; GC CPU about "
        f"{result.gc_cpu_s * 1000:,.0f} ms against {result.mutator_s * 1000:,.0f} ms of "
        f"the program")
    if result.thrashing:
        console.print("[bold red]THRASHING[/]: the memory limit sits under the live heap; "
                      "collections run back to back and the GC CPU limiter lets the program "
                      "go on at about half speed")
    table = Table(title="size classes", title_justify="left")
    for column in ("class", "bytes/obj", "allocated", "live", "spans", "peak spans",
                   "spans freed", "waste"):
        table.add_column(column, justify="right")
    for row in result.size_classes:
        table.add_row(str(row["size_class"] or "large"), f"{row['object_bytes']:,}",
                      f"{row['objects_allocated']:,}", f"{row['live_objects']:,}",
                      f"{row['spans']:,}", f"{row['peak_spans']:,}", f"{row['spans_freed']:,}",
                      format_bytes(row["waste_bytes"]))
    console.print(table)


def render_what_if(rows: list[WhatIf], recommendation: str, console: Console,
                   workload: RecordedWorkload | None = None) -> None:
    """The table of settings, then the recommendation; for a recording, what was replayed
    and how close the model comes to what the service did."""
    if workload is not None:
        console.print(
            f"workload from the recording: {format_bytes(workload.allocation_rate)}/s "
            f"allocated in objects of about {workload.object_bytes:,} B for "
            f"{workload.duration_s:,.0f} s; live heap {format_bytes(workload.live_start_bytes)}"
            f" → {format_bytes(workload.live_end_bytes)}; ran with "
            f"{workload.setting.label} ({workload.setting_source}), GOMAXPROCS "
            f"{workload.gomaxprocs}")
    table = Table(title_justify="left")
    for column in ("setting", "peak memory", "peak heap", "GCs", "GCs/min", "GC CPU", "note"):
        table.add_column(column, justify="left" if column in ("setting", "note") else "right",
                         no_wrap=column == "setting")
    for row in rows:
        table.add_row(row.setting.label, format_bytes(row.peak_memory_bytes),
                      format_bytes(row.result.peak_heap_alloc_bytes), f"{row.result.num_gc:,}",
                      f"{row.per_minute:,.1f}", f"{row.gc_cpu_fraction:.1%}", row.note)
    console.print(table)
    if workload is not None:
        console.print(model_check(rows, workload))
    console.print(f"[bold]recommended[/]: {recommendation}")


def model_check(rows: list[WhatIf], workload: RecordedWorkload) -> str:
    """How the model at the recorded setting compares with what the service did."""
    same = next((r for r in rows if r.setting == workload.setting), None)
    if same is None:
        return "the recorded setting is not among the values: add it to compare"
    recorded, modelled = workload.recorded_gc, same.result.num_gc
    gap = f" ({(modelled - recorded) / recorded:+.0%})" if recorded else ""
    cpu = "" if workload.recorded_gc_cpu_fraction is None else (
        f"; GC CPU {same.gc_cpu_fraction:.1%} against {workload.recorded_gc_cpu_fraction:.1%}"
        " recorded (GCCPUFraction, since the service started)")
    return (f"model at the recorded setting: {modelled:,} collections against "
            f"{recorded:,} recorded{gap}; peak heap "
            f"{format_bytes(same.result.peak_heap_alloc_bytes)} against "
            f"{format_bytes(workload.recorded_peak_heap_bytes)} recorded{cpu}")
