"""`memgrowth gogc (REC | --workload SPEC) --values 20,50,100,200,off [--limit SIZE]`: what
each GOGC (and GOMEMLIMIT) would do to peak memory, collections and GC CPU."""

from __future__ import annotations

import json
import os

import click
from rich.console import Console

from memgrowth.analysis.gogc import NotEnoughData, RecordedWorkload, recorded_workload
from memgrowth.analysis.series import from_recording
from memgrowth.commands.simulate import parse_gogc_option, read_workload
from memgrowth.errors import UserError
from memgrowth.gomodel.whatif import Setting, WhatIf, recommend, what_if
from memgrowth.recording import open_recording
from memgrowth.report.gomodel_report import model_check, render_what_if
from memgrowth.units import parse_size


def from_file(path: str) -> RecordedWorkload:
    """The workload of the busiest Go process of a recording."""
    recording = open_recording(path)
    series = from_recording(recording)
    candidates = [p for p in series.processes.values() if len(p.go_t)]
    if not candidates:
        raise UserError(f"{path} has no Go MemStats: record the service with its /debug/vars "
                        "endpoint (`memgrowth run --endpoint URL` or discovery)")
    process = max(candidates, key=lambda p: len(p.go_t))
    env: dict[str, str] = {}
    for event in recording.events("go_settings"):
        if event.get("pid") == process.pid:
            env = {k: str(v) for k, v in event["detail"].items()}
    try:
        return recorded_workload(process, env, recording.meta.get("cpu_count"))
    except NotEnoughData as exc:
        raise UserError(f"{path}: {exc}") from None


def parse_values(text: str, limit: int | None) -> list[Setting]:
    values = [v for v in (part.strip() for part in text.split(",")) if v]
    if not values:
        raise UserError("--values needs at least one GOGC value, e.g. 50,100,200,off")
    settings = [Setting(parse_gogc_option(v)) for v in values]
    if limit:  # the memory limit on its own, as the runtime docs suggest running it
        settings.append(Setting(None, limit))
    return settings


def _json(rows: list[WhatIf], recommendation: str,
          workload: RecordedWorkload | None) -> str:
    data = {"settings": [{"setting": r.setting.label,
                          "gogc": r.setting.gogc, "gomemlimit_bytes": r.setting.memory_limit,
                          "peak_memory_bytes": r.peak_memory_bytes,
                          "per_minute": r.per_minute, "gc_cpu_fraction": r.gc_cpu_fraction,
                          "note": r.note or None,
                          **r.result.to_dict()} for r in rows],
            "recommendation": recommendation}
    for row in data["settings"]:
        del row["size_classes"]
    if workload is not None:
        data["recorded"] = {
            "setting": workload.setting.label, "setting_source": workload.setting_source,
            "num_gc": workload.recorded_gc,
            "gc_cpu_fraction": workload.recorded_gc_cpu_fraction,
            "peak_heap_alloc_bytes": workload.recorded_peak_heap_bytes,
            "allocation_rate_bytes_per_s": workload.allocation_rate,
            "object_bytes": workload.object_bytes, "duration_s": workload.duration_s,
            "live_start_bytes": workload.live_start_bytes,
            "live_end_bytes": workload.live_end_bytes,
            "model_check": model_check(rows, workload)}
    return json.dumps(data, indent=2)


@click.command("gogc")
@click.argument("recording", metavar="REC", required=False)
@click.option("--workload", metavar="SPEC", help="A workload spec instead of a recording.")
@click.option("--values", default="20,50,100,200,off", show_default=True,
              help="GOGC values to compare.")
@click.option("--limit", "limit_text", metavar="SIZE",
              help="The memory budget (e.g. the container's limit): checks each setting "
                   "against it and adds a row with GOMEMLIMIT at 90% of it and GOGC=off.")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
def command(recording: str | None, workload: str | None, values: str,
            limit_text: str | None, as_json: bool) -> int:
    """What-if table for GOGC / GOMEMLIMIT: peak memory, collections, GC CPU per setting,
    from a Go recording or a workload spec."""
    if (recording is None) == (workload is None):
        raise UserError("give a Go recording or --workload SPEC (one of them)")
    budget = parse_size(limit_text) if limit_text else None
    if budget is not None and budget <= 0:
        raise UserError(f"--limit must be positive, got {limit_text!r}")
    settings = parse_values(values, int(budget * 0.9) if budget else None)
    recorded = None
    if recording is not None:
        if not os.path.exists(recording):
            raise UserError(f"no such recording: {recording}")
        recorded = from_file(recording)
        if recorded.setting not in settings:
            settings.insert(0, recorded.setting)
        rows = what_if(recorded.phases, settings, recorded.costs, budget, recorded.gomaxprocs,
                       recorded.stacks_bytes, measure_from=recorded.measure_from,
                       wall_s=recorded.duration_s)
        current = recorded.setting
    else:
        rows = what_if(read_workload(workload or ""), settings, budget=budget)
        current = Setting(100)
    recommendation = recommend(rows, current, budget)
    if as_json:
        click.echo(_json(rows, recommendation, recorded))
    else:
        render_what_if(rows, recommendation, Console(highlight=False), recorded)
    return 0
