"""`memgrowth gctrace FILE`: diagnose a Go program's `GODEBUG=gctrace=1` log."""

from __future__ import annotations

import sys

import click
from rich.console import Console

from memgrowth.analysis.gctrace import diagnose_trace
from memgrowth.commands.options import limit_option, read_file
from memgrowth.errors import UserError
from memgrowth.formats.gctrace import parse
from memgrowth.report.gctrace_report import render, to_dict
from memgrowth.report.json_report import write_json_object


@click.command("gctrace")
@click.argument("file", metavar="FILE")
@limit_option
@click.option("--json", "json_path", metavar="F",
              help="also write the diagnosis as JSON (memgrowth.diagnosis/1) to F, - for stdout")
def command(file: str, limit: int | None, json_path: str | None) -> None:
    """Diagnose a GODEBUG=gctrace=1 log (FILE, or - for standard input); other lines in it
    (the program's own output) are skipped."""
    trace = parse(_read(file))
    if not trace.cycles:
        raise UserError(f"{file}: no GODEBUG=gctrace=1 lines found "
                        f"({trace.other_lines} other lines)")
    diagnosis = diagnose_trace(trace, limit)
    if json_path:
        write_json_object(to_dict(diagnosis), json_path)
    if json_path != "-":
        render(diagnosis, Console(highlight=False), file)


def _read(file: str) -> str:
    if file == "-":
        return sys.stdin.read()
    return read_file(file, "a log").decode("utf-8", errors="replace")
