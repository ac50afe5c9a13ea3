"""The HTML report: one self-contained file (charts library, styles and data embedded), that
opens anywhere, offline, and is what gets attached to the incident ticket.

Everything that came from the target (commands, paths, function, thread, logger and type
names, dict keys) is escaped: the page's text is built here with html.escape, and the
charts' data travels as JSON in a non-executable script block with `<`, `>` and `&`
escaped, read by the page's script and shown only through textContent.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from typing import Any

import numpy as np

from memgrowth import __version__
from memgrowth.analysis.diagnose import Diagnosis
from memgrowth.analysis.finding import Finding
from memgrowth.analysis.series import ProcessSeries, RunSeries, display_path
from memgrowth.report import html_data
from memgrowth.report.terminal import short_command
from memgrowth.units import format_bytes, format_duration

VERDICT_WORDS = {"leak": "Leak", "no_leak": "No leak", "inconclusive": "Inconclusive"}
TOP_ROWS = 10


def escape(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def asset(name: str) -> str:
    return resources.files("memgrowth.report").joinpath("assets").joinpath(name).read_text(
        "utf-8")


def embed_json(data: Any) -> str:
    """JSON that cannot end the script block it sits in, whatever strings it carries."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False, default=_plain)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON: {type(value).__name__}")


def page(title: str, body: str, charts: list[dict[str, Any]]) -> str:
    """The whole document: styles, body, the charts' data, uPlot and the page's script."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; \
style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>{escape(title)}</title>
<style>{asset("uPlot.min.css")}</style>
<style>{asset("report.css")}</style>
</head>
<body>
{body}
<script type="application/json" id="chart-data">{embed_json(charts)}</script>
<script>{asset("uPlot.iife.min.js")}</script>
<script>{asset("report.js")}</script>
</body>
</html>
"""


def render_report(diagnosis: Diagnosis, run: RunSeries, meta: dict[str, Any]) -> str:
    """The report of one recording."""
    charts = [c for c in (html_data.timeline(diagnosis, run),
                          html_data.python_heap(diagnosis, run),
                          html_data.gc_rate(diagnosis, run),
                          html_data.pause_histogram(run)) if c is not None]
    summary = diagnosis.summary
    command = short_command(summary.command)
    body = "\n".join([
        f"<header><h1>memgrowth: <code>{escape(command)}</code></h1>"
        f"<p class=muted>{escape(format_duration(summary.duration_s))} recorded, "
        f"{summary.processes} process{'es' if summary.processes != 1 else ''}, "
        f"{escape(diagnosis.runtime)}</p></header>",
        verdict_section(diagnosis),
        findings_section(diagnosis.findings),
        '<section><h2>Memory over time</h2><p class=muted>Drag to zoom, double-click to '
        'reset; click a legend entry to show or hide it (each process of the tree has its '
        'own). Ticks under the chart: collections.</p><div class=chart id="chart-timeline">'
        '</div><div class=chart id="chart-python-heap"></div></section>',
        gc_section(diagnosis),
        attribution_section(diagnosis, run, meta.get("cwd")),
        composition_section(run),
        metadata_section(diagnosis, run, meta),
        f"<footer class=muted>memgrowth {escape(__version__)}</footer>",
    ])
    return page(f"memgrowth: {command}", body, charts)


def verdict_section(diagnosis: Diagnosis) -> str:
    summary, forecast = diagnosis.summary, diagnosis.forecast
    rate = ""
    if diagnosis.rate_bytes_per_s is not None:
        rate = f"{format_bytes(diagnosis.rate_bytes_per_s, signed=True)}/s"
        if diagnosis.rate_ci95:
            low, high = diagnosis.rate_ci95
            rate += (f" (95%: {format_bytes(low, signed=True)} to "
                     f"{format_bytes(high, signed=True)})")
    facts = [("pattern", diagnosis.pattern), ("growth", rate or "—"),
             ("RSS", f"{format_bytes(summary.baseline_rss)} at start → peak "
                     f"{format_bytes(summary.peak_rss)} → {format_bytes(summary.final_rss)}"
                     " at the end")]
    if forecast.seconds_to_limit is not None:
        facts.append(("forecast", f"reaches the {forecast.limit_source} limit "
                                  f"{format_bytes(forecast.limit_bytes)} in "
                                  f"{format_duration(forecast.seconds_to_limit)}"))
    elif forecast.limit_bytes:
        facts.append(("limit", f"{format_bytes(forecast.limit_bytes)} "
                               f"({forecast.limit_source})"))
    if diagnosis.gc is not None:
        gc = diagnosis.gc
        facts.append(("GC", f"{gc.collections:,} collections"
                            + (f", {gc.per_minute:,.1f}/min" if gc.per_minute else "")
                            + (f", pause p99 {gc.pause_p99_ms:.2f} ms"
                               if gc.pause_p99_ms is not None else "")))
    if summary.oom_killed:
        facts.append(("exit", f"OOM-killed (exit {summary.exit_code})"))
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in facts)
    return (f'<section id=verdict class="verdict {escape(diagnosis.verdict)}">'
            f'<p><span class=badge>{escape(VERDICT_WORDS.get(diagnosis.verdict, "?"))}</span> '
            f'confidence {diagnosis.confidence:.0%}</p>'
            f"<p>{escape(diagnosis.reason)}</p><table class=facts>{rows}</table></section>")


def findings_section(findings: list[Finding]) -> str:
    if not findings:
        return "<section id=findings><h2>Findings</h2><p class=muted>None.</p></section>"
    items = []
    for finding in findings:
        details = "".join(
            f"<dt>{escape(label)}</dt><dd>{escape(value)}</dd>"
            for label, value in (("where", finding.where), ("holder", finding.holder),
                                 ("type", finding.type), ("evidence", finding.evidence),
                                 ("advice", finding.advice)) if value)
        items.append(f"<li class=finding><p class=title>{escape(finding.title)}</p>"
                     f"<dl>{details}</dl></li>")
    return f"<section id=findings><h2>Findings</h2><ol>{''.join(items)}</ol></section>"


def gc_section(diagnosis: Diagnosis) -> str:
    gc = diagnosis.gc
    text = ""
    if gc is not None:
        text = (f"<p>{gc.collections:,} collections"
                + (f", {gc.per_minute:,.1f} a minute" if gc.per_minute else "")
                + (f"; pauses p50 {gc.pause_p50_ms:.2f} ms, p95 {gc.pause_p95_ms:.2f} ms, "
                   f"p99 {gc.pause_p99_ms:.2f} ms, max {gc.pause_max_ms:.2f} ms"
                   if gc.pause_p99_ms is not None else "")
                + (f"; {gc.time_fraction:.2%} of the time collecting"
                   if gc.time_fraction else "") + "</p>")
    elif diagnosis.go_gc is not None:
        go = diagnosis.go_gc
        text = (f"<p>{go.collections:,} Go collections"
                + (f", {go.per_minute:,.1f} a minute" if go.per_minute else "") + "</p>")
    return ("<section id=gc><h2>Garbage collection</h2>" + text
            + '<div class=chart id="chart-gc-rate"></div>'
              '<div class=chart id="chart-pauses"></div></section>')


def _latest(process: ProcessSeries, kind: str) -> list:
    rows = process.attribution.get(kind, [])
    if not rows:
        return []
    last = rows[-1].t
    return [r for r in rows if r.t == last]


def attribution_section(diagnosis: Diagnosis, run: RunSeries, cwd: str | None = None) -> str:
    """Growth by line, by type and by container (with the holder's reference path), from
    the findings and the agent's latest scans."""
    parts = []
    by_kind: dict[str, list[Finding]] = {}
    for finding in diagnosis.findings:
        by_kind.setdefault(finding.kind, []).append(finding)
    for kind, heading in (("site", "Growth by line"), ("type", "Growth by type"),
                          ("container", "Growth by container")):
        rows = by_kind.get(kind, [])
        if rows:
            parts.append(f"<h3>{heading}</h3>" + table(
                ("where", "holder", "type", "rate", "share"),
                [(f.where, f.holder, f.type,
                  f"{format_bytes(f.rate_bytes_per_s, signed=True)}/s"
                  if f.rate_bytes_per_s is not None else "",
                  f"{f.share:.0%}" if f.share is not None else "") for f in rows]))
    for process in run.processes.values():
        containers = _latest(process, "container")
        containers = sorted(containers,
                            key=lambda r: -(r.count or 0) * (r.bytes or 0))[:TOP_ROWS]
        if containers:
            parts.append(f"<h3>Largest containers in {escape(process.label)} (latest scan)</h3>"
                         + table(("reference path", "holds", "entries", "per entry",
                                   "about"),
                                  [(r.key, r.detail.get("item_type") or r.detail.get(
                                      "container"),
                                    f"{r.count:,.0f}" if r.count is not None else "",
                                    format_bytes(r.bytes),
                                    format_bytes((r.count or 0) * (r.bytes or 0)))
                                   for r in containers]))
        sites = sorted(_latest(process, "site"), key=lambda r: -(r.bytes or 0))[:TOP_ROWS]
        if sites:
            parts.append(f"<h3>Lines whose allocations stay alive in {escape(process.label)} "
                         "(the latest tracemalloc window)</h3>"
                         + table(("line", "function", "still alive"),
                                  [(_site(r.key, cwd), r.detail.get("function"),
                                    format_bytes(r.bytes)) for r in sites]))
    if not parts:
        parts.append("<p class=muted>No attribution was recorded (a Python target under "
                     "<code>memgrowth run</code> has it; Go services give heap profiles).</p>")
    return "<section id=attribution><h2>Who holds the memory</h2>" + "".join(parts) \
        + "</section>"


def _site(key: str, cwd: str | None) -> str:
    path, _, line = key.rpartition(":")
    return f"{display_path(path, cwd)}:{line}" if path else key


def table(headers: tuple[str, ...], rows: list[tuple]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table class=data><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def composition_section(run: RunSeries) -> str:
    """What the RSS was made of at the first and at the last sample of each process."""
    blocks = []
    for process in run.processes.values():
        if not len(process.t):
            continue
        columns = []
        for label, index in (("start", 0), ("end", -1)):
            parts = _composition(process, index)
            total = float(process.rss[index]) if np.isfinite(process.rss[index]) else 0.0
            columns.append(_bar(f"{label}: RSS {format_bytes(total)}", parts, total))
        blocks.append(f"<h3>{escape(process.label)}</h3><div class=compositions>"
                      f"{''.join(columns)}</div>")
    return "<section id=composition><h2>What the RSS is made of</h2>" + "".join(blocks) \
        + "</section>"


def _composition(process: ProcessSeries, index: int) -> list[tuple[str, float]]:
    def at(series: dict[str, np.ndarray], name: str, i: int = index) -> float:
        values = series.get(name)
        if values is None or not len(values) or not np.isfinite(values[i]):
            return 0.0
        return float(values[i])

    anon, file, shmem = (at(process.os, c) for c in ("rss_anon", "rss_file", "rss_shmem"))
    parts: list[tuple[str, float]] = []
    if process.has_agent and len(process.agent_t):
        i = 0 if index == 0 else len(process.agent_t) - 1
        heap = at(process.agent, "malloc_in_use", i)
        free = at(process.agent, "malloc_free", i)
        parts += [("malloc in use (C allocations)", heap), ("malloc free, kept", free),
                  ("other anonymous (Python's arenas, stacks, mmaps)", anon - heap - free)]
    elif len(process.go_t):
        i = 0 if index == 0 else len(process.go_t) - 1
        heap = at(process.go, "heap_inuse", i)
        stacks = at(process.go, "stack_inuse", i)
        parts += [("Go heap in use", heap), ("goroutine stacks", stacks),
                  ("other anonymous (runtime, idle heap)", anon - heap - stacks)]
    else:
        parts.append(("anonymous (heaps, stacks)", anon))
    parts += [("files mapped (code, libraries)", file), ("shared memory", shmem)]
    return [(label, max(value, 0.0)) for label, value in parts]


def _bar(title: str, parts: list[tuple[str, float]], total: float) -> str:
    whole = max(total, sum(v for _, v in parts), 1.0)
    segments = "".join(
        f'<span class="seg s{i}" style="width:{100 * value / whole:.2f}%" '
        f'title="{escape(label)}: {escape(format_bytes(value))}"></span>'
        for i, (label, value) in enumerate(parts) if value > 0)
    legend = "".join(f'<li><i class="s{i}"></i>{escape(label)}: {escape(format_bytes(value))}</li>'
                     for i, (label, value) in enumerate(parts))
    return (f"<div class=composition><p>{escape(title)}</p><div class=bar>{segments}</div>"
            f"<ul class=legend>{legend}</ul></div>")


def metadata_section(diagnosis: Diagnosis, run: RunSeries, meta: dict[str, Any]) -> str:
    summary, forecast = diagnosis.summary, diagnosis.forecast
    rows = [("command", " ".join(summary.command)), ("mode", meta.get("mode")),
            ("root pid", summary.root_pid), ("started", meta.get("started_at")),
            ("duration", format_duration(summary.duration_s)),
            ("samples", f"{summary.os_ticks:,} OS ticks"),
            ("limit", f"{format_bytes(forecast.limit_bytes)} ({forecast.limit_source})"
                      if forecast.limit_bytes else None),
            ("exit", "OOM-killed" if summary.oom_killed else
             summary.exit_signal or (f"code {summary.exit_code}"
                                     if summary.exit_code is not None else None)),
            ("stopped", summary.stop_reason), ("working folder", meta.get("cwd")),
            ("host", meta.get("host")), ("kernel", meta.get("kernel")),
            ("CPUs", meta.get("cpu_count")),
            ("recorder", f"memgrowth {meta.get('memgrowth_version')}, Python "
                         f"{meta.get('recorder_python')}"
             if meta.get("memgrowth_version") else None),
            ("interval", meta.get("interval"))]
    facts = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows
                    if v not in (None, ""))
    processes = table(("pid", "runtime", "command"),
                       [(p.pid, p.runtime or "native", " ".join(p.command))
                        for p in run.processes.values()])
    return (f"<section id=metadata><h2>Run</h2><table class=facts>{facts}</table>"
            f"<h3>Processes</h3>{processes}</section>")
