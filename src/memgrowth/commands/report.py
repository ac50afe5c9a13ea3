"""`memgrowth report REC`: diagnose a recording again, offline (also one cut off by a kill)."""

from __future__ import annotations

import click
from rich.console import Console

from memgrowth.analysis.diagnose import Diagnosis, diagnose
from memgrowth.recording import open_recording
from memgrowth.report.json_report import write_json
from memgrowth.report.terminal import render_diagnosis


def print_diagnosis(path: str, json_path: str | None = None, stderr: bool = False,
                    quiet: bool = False) -> Diagnosis:
    """Diagnose the recording at PATH, print it (unless quiet) and write the JSON if asked."""
    diagnosis = diagnose(open_recording(path))
    if json_path:
        write_json(diagnosis, json_path)
    if not quiet:
        render_diagnosis(diagnosis, Console(stderr=stderr, highlight=False), path)
    return diagnosis


def json_option(function):
    return click.option("--json", "json_path", metavar="F",
                        help="Also write the diagnosis as JSON to F ('-' for stdout).")(function)


@click.command("report")
@click.argument("recording", metavar="REC")
@json_option
def command(recording: str, json_path: str | None) -> int:
    """Diagnose a recording again, offline."""
    print_diagnosis(recording, json_path, quiet=json_path == "-")
    return 0
