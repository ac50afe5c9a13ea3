"""`memgrowth simulate --workload SPEC`: the Go allocator and GC pacer model on a workload."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from memgrowth.errors import UserError
from memgrowth.gomodel.pacer import Pacer, parse_gogc
from memgrowth.gomodel.simulate import SpecError, parse_spec, simulate
from memgrowth.units import format_bytes, parse_size


def read_workload(text: str):
    """The spec from a file path or inline JSON; one clear error otherwise."""
    source = text
    if not text.lstrip().startswith("{"):
        try:
            with open(text, encoding="utf-8") as handle:
                source = handle.read()
        except OSError as exc:
            raise UserError(f"cannot read workload {text}: {exc.strerror}") from None
    try:
        return parse_spec(json.loads(source))
    except (ValueError, RecursionError) as exc:
        raise UserError(f"bad workload spec: {exc}") from None


def pacer_from(gogc: str, gomemlimit: str | None) -> Pacer:
    try:
        limit = parse_size(gomemlimit) if gomemlimit else None
        return Pacer(parse_gogc(gogc), limit)
    except (ValueError, SpecError) as exc:
        raise UserError(str(exc)) from None


@click.command("simulate")
@click.option("--workload", "workload", required=True, metavar="SPEC",
              help='A JSON file, or the JSON itself: {"phases": [{"allocs": N, "size": B, '
                   '"retain": "none" | "all" | {"ring": N}}]}.')
@click.option("--gogc", default="100", show_default=True, help="GOGC: a percentage or off.")
@click.option("--gomemlimit", metavar="SIZE", help="GOMEMLIMIT, e.g. 512MiB.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def command(workload: str, gogc: str, gomemlimit: str | None, as_json: bool) -> int:
    """Simulate Go's allocator and GC pacer on a workload: collections, peak heap, size
    classes, GC CPU."""
    result = simulate(read_workload(workload), pacer_from(gogc, gomemlimit)).to_dict()
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return 0
    console = Console(highlight=False)
    console.print(f"GOGC={gogc}" + (f" GOMEMLIMIT={gomemlimit}" if gomemlimit else "")
                  + f": {result['num_gc']:,} collections, peak heap "
                  f"{format_bytes(result['peak_heap_alloc_bytes'])}, allocated "
                  f"{format_bytes(result['total_alloc_bytes'])}, final heap "
                  f"{format_bytes(result['final_heap_alloc_bytes'])}, "
                  f"{result['heap_objects']:,} live objects, GC CPU about "
                  f"{result['gc_cpu_s']:.3f} s"
                  + (" — THRASHING: the limit is under the live heap" if result["thrashing"]
                     else ""))
    table = Table(title="size classes", title_justify="left")
    for column in ("class", "bytes/obj", "allocated", "live", "spans", "waste"):
        table.add_column(column, justify="right")
    for row in result["size_classes"]:
        table.add_row(str(row["size_class"]), str(row["object_bytes"] or "large"),
                      f"{row['objects_allocated']:,}", f"{row['live_objects']:,}",
                      f"{row['spans']:,}", format_bytes(row["waste_bytes"]))
    console.print(table)
    return 0
