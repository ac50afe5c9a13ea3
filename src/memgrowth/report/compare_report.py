"""Before/after renderers: the table in the terminal, and an HTML page with both timelines
on one time axis."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from memgrowth.analysis.compare import Comparison, Row
from memgrowth.analysis.series import RunSeries
from memgrowth.report.downsample import min_max
from memgrowth.report.html import escape, page, table
from memgrowth.report.html_data import Series, chart_spec, series_spec
from memgrowth.report.terminal import short_command
from memgrowth.units import format_bytes, format_duration


def value_text(row: Row, value: float | str | None) -> str:
    if value is None:
        return "—"
    if row.unit == "bytes":
        return format_bytes(float(value))
    if row.unit == "bytes/s":
        return f"{format_bytes(float(value), signed=True)}/s"
    if row.unit == "seconds":
        return format_duration(float(value))
    if row.unit == "per_minute":
        return f"{float(value):,.1f}"
    if row.unit == "ms":
        return f"{float(value):.2f} ms"
    return str(value).replace("_", " ")


def change_text(row: Row) -> str:
    change = row.change
    if change is None or row.unit in ("text", "seconds"):
        return ""
    if row.unit == "bytes/s" and isinstance(row.before, (int, float)) \
            and isinstance(row.after, (int, float)):
        return f"{format_bytes(row.after - row.before, signed=True)}/s"
    return f"{change - 1:+.0%}"


def render_comparison(comparison: Comparison, labels: tuple[str, str],
                      console: Console) -> None:
    grid = Table(title_justify="left")
    for column in ("", f"before: {labels[0]}", f"after: {labels[1]}", "change"):
        grid.add_column(column, justify="left" if not column or column == "change"
                         else "right", no_wrap=not column)
    for row in comparison.rows:
        grid.add_row(row.label, value_text(row, row.before), value_text(row, row.after),
                     change_text(row))
    console.print(grid)
    style = "bold green" if comparison.fixed else "bold"
    console.print(f"[{style}]{comparison.summary}[/]")


def overlay(before: RunSeries, after: RunSeries) -> dict[str, Any]:
    """Both runs' RSS (and their heaps when recorded) against time since each started."""
    parts: list[tuple[dict[str, Any], Series]] = []
    for name, run, style in (("before", before, "main"), ("after", after, "other")):
        parts.append((series_spec(f"RSS {name}", "bytes", style), min_max(run.t, run.rss)))
    return chart_spec("compare", "RSS, before and after, from each start", parts)


def render_comparison_html(comparison: Comparison, before: RunSeries, after: RunSeries,
                           commands: tuple[list[str], list[str]],
                           labels: tuple[str, str]) -> str:
    rows = [(row.label, value_text(row, row.before), value_text(row, row.after),
             change_text(row)) for row in comparison.rows]
    verdict = "no_leak" if comparison.fixed else "inconclusive"
    body = (f"<header><h1>memgrowth: before and after</h1></header>"
            f'<section id=verdict class="verdict {verdict}"><p><span class=badge>'
            f"{escape(comparison.summary)}</span></p>"
            f"<table class=facts><tr><th>before</th><td>{escape(labels[0])}: "
            f"<code>{escape(short_command(commands[0]))}</code></td></tr>"
            f"<tr><th>after</th><td>{escape(labels[1])}: "
            f"<code>{escape(short_command(commands[1]))}</code></td></tr></table></section>"
            f"<section id=comparison><h2>Side by side</h2>"
            + table(("", "before", "after", "change"), rows)
            + '</section><section><h2>Timelines</h2><div class=chart id="chart-compare">'
              "</div></section>")
    return page("memgrowth: before and after", body, [overlay(before, after)])
