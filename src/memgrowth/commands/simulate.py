"""`memgrowth simulate --workload SPEC`: the Go allocator and GC pacer model on a workload."""

from __future__ import annotations

import json

import click
from rich.console import Console

from memgrowth.commands.options import read_file
from memgrowth.errors import UserError
from memgrowth.gomodel.pacer import Pacer, parse_gogc
from memgrowth.gomodel.simulate import simulate
from memgrowth.gomodel.spec import Phase, parse_spec
from memgrowth.gomodel.whatif import Setting
from memgrowth.report.gomodel_report import render_simulation
from memgrowth.units import parse_size


def read_workload(text: str) -> list[Phase]:
    """The spec from a file path or inline JSON; one clear error otherwise."""
    source = text
    if not text.lstrip().startswith("{"):
        source = read_file(text, "a workload spec").decode("utf-8", errors="replace")
    try:
        return parse_spec(json.loads(source))
    except (ValueError, RecursionError) as exc:
        raise UserError(f"bad workload spec: {exc}") from None


def parse_gogc_option(text: str) -> int | None:
    try:
        return parse_gogc(text)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def parse_limit_option(text: str | None) -> int | None:
    if not text or text.strip().lower() == "off":
        return None
    limit = parse_size(text)
    if limit <= 0:
        raise UserError(f"GOMEMLIMIT must be positive, got {text!r}")
    return limit


@click.command("simulate")
@click.option("--workload", "workload", required=True, metavar="SPEC",
              help='A JSON file, or the JSON itself: {"phases": [{"allocs": N, "size": B, '
                   '"retain": "none" | "all" | {"ring": N}}]}.')
@click.option("--gogc", default="100", show_default=True, help="GOGC: a percentage or off.")
@click.option("--gomemlimit", metavar="SIZE", help="GOMEMLIMIT, e.g. 512MiB.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--cycles", is_flag=True, help="With --json: every collection too.")
def command(workload: str, gogc: str, gomemlimit: str | None, as_json: bool,
            cycles: bool) -> int:
    """Simulate Go's allocator and GC pacer on a workload: collections, peak heap, heap
    pages, size classes, GC CPU."""
    phases = read_workload(workload)
    setting = Setting(parse_gogc_option(gogc), parse_limit_option(gomemlimit))
    result = simulate(phases, Pacer(setting.gogc, setting.memory_limit))
    if as_json:
        click.echo(json.dumps(result.to_dict(with_cycles=cycles), indent=2))
    else:
        render_simulation(result, setting.label, Console(highlight=False))
    return 0
