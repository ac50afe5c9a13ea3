"""Terminal renderers: the run summary and the snapshot tables (rich; plain text in pipes)."""

from __future__ import annotations

import os

from rich.console import Console
from rich.table import Table
from rich.text import Text

from memgrowth.analysis.diagnose import Diagnosis
from memgrowth.analysis.finding import Finding
from memgrowth.analysis.forecast import Forecast
from memgrowth.analysis.summary import RunSummary
from memgrowth.baseline import Baseline
from memgrowth.probes.smaps import CompositionRow, combine
from memgrowth.units import format_bytes, format_duration

MAX_LIBRARY_ROWS = 12


VERDICT_STYLE = {"leak": ("LEAK", "bold white on red"), "no_leak": ("NO LEAK", "bold green"),
                 "inconclusive": ("INCONCLUSIVE", "bold yellow")}
METRIC_WORDS = {"heap": "the Python heap", "rss": "native memory (outside the Python heap)",
                "threads": "threads", "tasks": "asyncio tasks", "goroutines": "goroutines"}


def render_diagnosis(diagnosis: Diagnosis, console: Console, recording_path: str) -> None:
    """Verdict first, then the findings with numbers and advice, then the run's figures."""
    render_verdict(console, diagnosis.verdict, diagnosis.confidence, diagnosis.rate_bytes_per_s,
                   diagnosis.rate_ci95, diagnosis.pattern, diagnosis.reason)
    if diagnosis.verdict == "leak":
        words = METRIC_WORDS.get(diagnosis.metric, diagnosis.metric)
        if diagnosis.runtime == "go":
            words = words.replace("Python", "Go")
        console.print(Text(f"  What grows: {words}"))
    if diagnosis.verdict == "inconclusive" and diagnosis.record_more_s:
        console.print(Text(f"  Record about {format_duration(diagnosis.record_more_s)} more "
                           "to decide.", style="yellow"))
    render_forecast(console, diagnosis.forecast)
    render_findings(console, diagnosis.findings)
    render_go_memory(diagnosis, console)
    gc = diagnosis.gc
    if gc is not None and gc.collections:
        console.print(Text(
            f"GC: {gc.collections:,} collections ({gc.per_minute:,.0f}/min), pauses p50 "
            f"{gc.pause_p50_ms} ms, p99 {gc.pause_p99_ms} ms, max {gc.pause_max_ms} ms, "
            f"{(gc.time_fraction or 0):.2%} of wall time", style="dim"))
    render_summary(diagnosis.summary, console, recording_path)


def render_go_memory(diagnosis: Diagnosis, console: Console) -> None:
    """Where a Go process's RSS is, and its GC from MemStats."""
    memory = diagnosis.go_memory
    if memory is not None:
        parts = ", ".join(f"{name} {format_bytes(value)}" for name, value in memory.lines())
        head = f"Go memory: RSS {format_bytes(memory.rss)}: " if memory.rss else "Go memory: "
        console.print(Text(head + parts + f"; released to the OS "
                           f"{format_bytes(memory.heap_released)}", style="dim"))
    gc = diagnosis.go_gc
    if gc is not None and gc.collections:
        pause = f", pauses mean {gc.pause_mean_ms:.3f} ms" if gc.pause_mean_ms else ""
        if gc.pause_max_ms:
            pause += f", longest seen {gc.pause_max_ms:.3f} ms"
        cpu = f", {gc.cpu_fraction:.2%} of CPU" if gc.cpu_fraction is not None else ""
        console.print(Text(f"Go GC: {gc.collections:,} collections "
                           f"({gc.per_minute or 0:,.0f}/min){pause}{cpu}", style="dim"))


def render_verdict(console: Console, verdict: str, confidence: float, rate: float | None,
                   rate_ci95: tuple[float, float] | None, pattern: str, reason: str) -> None:
    """The first two lines: verdict, confidence, rate with its interval, pattern; why."""
    word, style = VERDICT_STYLE[verdict]
    head = Text.assemble((f" {word} ", style), f"  confidence {confidence:.1%}  ")
    if rate is not None and rate_ci95 is not None:
        low, high = rate_ci95
        head.append(f"memory {format_bytes(rate, signed=True)}/s "
                    f"[{format_bytes(low, signed=True)} to {format_bytes(high, signed=True)}]")
    head.append(f"  pattern: {pattern}", style="dim")
    console.print(head)
    console.print(Text(f"  {reason}", style="dim"))


def render_forecast(console: Console, projection: Forecast) -> None:
    if projection.seconds_to_limit is None:
        return
    span = ""
    if projection.seconds_to_limit_ci95:
        soonest, latest = projection.seconds_to_limit_ci95
        span = (f" [{format_duration(soonest)} to "
                f"{format_duration(latest) if latest else 'never'}]")
    console.print(Text(f"  Forecast: reaches the {projection.limit_source} limit "
                       f"{format_bytes(projection.limit_bytes)} in "
                       f"{format_duration(projection.seconds_to_limit)}{span}", style="bold"))


def render_findings(console: Console, findings: list[Finding]) -> None:
    """Ranked findings: title, then where, holder, evidence and advice."""
    for rank, finding in enumerate(findings, 1):
        console.print(Text.assemble((f"{rank}. ", "bold"), (finding.title, "bold")))
        for label, value in (("where", finding.where), ("holder", finding.holder),
                             ("evidence", finding.evidence), ("advice", finding.advice)):
            if value and not (label == "holder" and value in finding.title):
                console.print(Text(f"   {label}: ", style="dim") + Text(value))


def render_summary(summary: RunSummary, console: Console, recording_path: str) -> None:
    """A few lines: what ran, for how long, how big at start, peak and end, how it ended."""
    console.print(Text.assemble(("memgrowth ", "bold"), "recorded ",
                                short_command(summary.command)))
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim")
    table.add_column()
    processes = f"{summary.processes}"
    if summary.python_processes:
        processes += f" ({summary.python_processes} Python, with agent)"
    table.add_row("duration", f"{format_duration(summary.duration_s)}, {summary.os_ticks} samples")
    table.add_row("processes", processes)
    table.add_row("RSS", f"baseline {format_bytes(summary.baseline_rss)} → peak "
                  f"{format_bytes(summary.peak_rss)}"
                  + (f" at {format_duration(summary.peak_rss_t)}"
                     if summary.peak_rss_t is not None else "")
                  + f" → end {format_bytes(summary.final_rss)}")
    if summary.python_blocks_first is not None:
        table.add_row("Python heap", f"{summary.python_blocks_first:,} → "
                      f"{summary.python_blocks_last:,} allocated blocks")
    if summary.cgroup_limit:
        table.add_row("limit", f"{format_bytes(summary.cgroup_limit)} (cgroup)")
    table.add_row("exit", _exit_text(summary))
    if summary.stop_reason and summary.stop_reason != "target exited":
        table.add_row("stopped", summary.stop_reason)
    if summary.damaged:
        table.add_row("damaged", "recording cut short in: " + ", ".join(summary.damaged)
                      + " (rows up to the damage were read)")
    table.add_row("recording", recording_path)
    console.print(table)


def short_command(command: list[str]) -> str:
    """The command as a person would type it: programs and scripts by their file names."""
    if not command:
        return "?"
    return " ".join(os.path.basename(a) if os.path.isabs(a) else a for a in command)


def _exit_text(summary: RunSummary) -> Text:
    if summary.oom_killed:
        return Text(f"OOM-killed (exit {summary.exit_code})", style="bold red")
    if summary.exit_signal:
        return Text(f"{summary.exit_signal} (exit {summary.exit_code})", style="yellow")
    if summary.exit_code is None:
        return Text("still running or unknown (not our child)", style="dim")
    return Text(f"exit {summary.exit_code}", style="green" if summary.exit_code == 0 else "red")


def render_snapshot(snapshot: Baseline, console: Console) -> None:
    """The runtime's own figures beside where the RSS is."""
    console.print(Text.assemble(("snapshot ", "bold"), f"pid {snapshot.pid}: ",
                                " ".join(snapshot.command)))
    process = Table(title="Process (OS)", title_justify="left", show_header=False)
    process.add_column(style="dim")
    process.add_column(justify="right")
    for label, value in (("RSS", snapshot.rss), ("USS (private)", snapshot.uss),
                         ("PSS", snapshot.pss), ("swap", snapshot.swap), ("VMS", snapshot.vms)):
        process.add_row(label, format_bytes(value))
    process.add_row("threads", str(snapshot.threads))
    if snapshot.cgroup is not None:
        group = snapshot.cgroup
        process.add_row(f"cgroup v{group.version} usage", format_bytes(group.usage))
        process.add_row("cgroup limit", format_bytes(group.limit) if group.limit else "none")
        if group.oom_kills is not None:
            process.add_row("cgroup OOM kills", str(group.oom_kills))
    console.print(process)
    if snapshot.python is not None:
        console.print(_python_table(snapshot))
    if snapshot.go is not None:
        console.print(_go_table(snapshot))
    elif snapshot.python_unavailable and _looks_like_python(snapshot.command):
        console.print(Text(f"Python figures: not available, {snapshot.python_unavailable}.",
                           style="dim"))
    console.print(_composition_table(snapshot))


# runtime.MemStats as the Go docs group it, with what each figure means.
GO_ROWS = [
    ("Alloc (= HeapAlloc)", "heap_alloc", "bytes of live and not yet swept heap objects"),
    ("HeapInuse", "heap_inuse", "bytes in spans in use"),
    ("HeapIdle", "heap_idle", "bytes in idle spans"),
    ("HeapReleased", "heap_released", "of which returned to the OS"),
    ("HeapSys", "heap_sys", "heap memory obtained from the OS"),
    ("HeapObjects", "heap_objects", "allocated heap objects"),
    ("StackInuse / StackSys", ("stack_inuse", "stack_sys"), "goroutine stacks"),
    ("MSpan / MCache Sys", ("mspan_sys", "mcache_sys"), "runtime metadata"),
    ("GCSys / BuckHashSys / OtherSys", ("gc_sys", "buck_hash_sys", "other_sys"), ""),
    ("Sys", "sys", "all memory obtained from the OS"),
    ("TotalAlloc", "total_alloc", "allocated since start (never falls)"),
    ("NextGC", "next_gc", "heap size the next GC aims at"),
    ("NumGC / NumForcedGC", ("num_gc", "num_forced_gc"), ""),
    ("PauseTotalNs", "pause_total_ns", "all stop-the-world pauses so far"),
    ("GCCPUFraction", "gc_cpu_fraction", "share of CPU spent in GC since start"),
    ("goroutines", "goroutines", ""),
]
_GO_COUNTS = {"heap_objects", "num_gc", "num_forced_gc", "goroutines"}


def _go_table(snapshot: Baseline) -> Table:
    figures = snapshot.go or {}
    table = Table(title=f"Go runtime (runtime.MemStats from {snapshot.go_endpoint})",
                  title_justify="left", show_header=False)
    table.add_column(style="dim")
    table.add_column(justify="right")
    table.add_column(style="dim")
    for label, names, meaning in GO_ROWS:
        keys = names if isinstance(names, tuple) else (names,)
        values = [_go_value(key, figures.get(key)) for key in keys]
        table.add_row(label, " / ".join(values), meaning)
    return table


def _go_value(key: str, value) -> str:
    if value is None:
        return "?"
    if key == "gc_cpu_fraction":
        return f"{value:.3%}"
    if key == "pause_total_ns":
        return f"{value / 1e6:,.1f} ms"
    if key in _GO_COUNTS:
        return f"{int(value):,}"
    return format_bytes(value)


def _looks_like_python(command: list[str]) -> bool:
    return bool(command) and "python" in command[0].rsplit("/", 1)[-1]


def _python_table(snapshot: Baseline) -> Table:
    py = snapshot.python
    assert py is not None
    table = Table(title=f"Python {py.version} runtime", title_justify="left", show_header=False)
    table.add_column(style="dim")
    table.add_column(justify="right")
    table.add_row("allocated blocks", f"{py.allocated_blocks:,}")
    table.add_row("GC-tracked objects", f"{py.objects:,}")
    table.add_row("GC enabled", "yes" if py.gc_enabled else "NO (gc.disable())")
    table.add_row("GC thresholds", " / ".join(map(str, py.gc_thresholds)))
    table.add_row("GC collections (gen 0/1/2)", " / ".join(f"{c:,}" for c in py.gc_collections))
    table.add_row("GC collected / uncollectable", f"{py.gc_collected:,} / {py.gc_uncollectable:,}")
    table.add_row("Python threads", str(py.threads))
    if py.malloc_in_use is not None:
        table.add_row("malloc in use", format_bytes(py.malloc_in_use))
        table.add_row("malloc free (retained)", format_bytes(py.malloc_free))
    return table


NOTES = {
    "heap": "[heap]: malloc's main arena, grown with brk",
    "anonymous": "anonymous mmaps: other malloc arenas, pymalloc arenas, thread stacks, "
                 "large buffers",
    "stack": "[stack]: the main thread's stack",
}
SMALL_SHARE = 0.005  # files and libraries under this share of RSS are folded into one row


def _composition_table(snapshot: Baseline) -> Table:
    composition = snapshot.composition
    total = composition.total
    table = Table(title=f"Where the RSS is (/proc/{snapshot.pid}/smaps)", title_justify="left",
                  caption=Text("\n".join(NOTES[c] for c in NOTES
                                         if any(r.category == c for r in composition.rows))),
                  caption_justify="left")
    table.add_column("kind", no_wrap=True, min_width=9)
    table.add_column("mapping", no_wrap=True, overflow="ellipsis", min_width=16)
    for name in ("maps", "RSS", "PSS", "private", "swap"):
        table.add_column(name, justify="right", no_wrap=True)
    shown: list[CompositionRow] = []
    folded: dict[str, list[CompositionRow]] = {"library": [], "file": [], "kernel": []}
    for row in composition.rows:
        kept = [r for r in shown if r.category == row.category]
        small = row.rss < SMALL_SHARE * max(total.rss, 1)
        if row.category == "kernel" or (
            row.category in folded and (small or len(kept) >= MAX_LIBRARY_ROWS)
        ):
            folded[row.category].append(row)
        else:
            shown.append(row)
    for category, rows in folded.items():
        if rows:
            label = {"library": f"{len(rows)} other libraries",
                     "file": f"{len(rows)} other files",
                     "kernel": "[vdso], [vvar]…"}[category]
            shown.append(combine(rows, category, label))
    for row in sorted(shown, key=lambda r: -r.rss):
        name = os.path.basename(row.name) if row.name.startswith("/") else row.name
        table.add_row(row.category, Text(name), str(row.mappings), format_bytes(row.rss),
                      format_bytes(row.pss), format_bytes(row.private), format_bytes(row.swap))
    table.add_section()
    table.add_row("total", "", str(total.mappings), format_bytes(total.rss),
                  format_bytes(total.pss), format_bytes(total.private), format_bytes(total.swap),
                  style="bold")
    return table
