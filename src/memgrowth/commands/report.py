"""`memgrowth report REC`: read a recording again, offline (also one cut off by a kill)."""

from __future__ import annotations

import click
from rich.console import Console

from memgrowth.analysis.summary import summarize
from memgrowth.recording import open_recording
from memgrowth.report.terminal import render_summary


def print_summary(path: str, stderr: bool = False) -> None:
    """Read the recording at PATH and print its summary."""
    recording = open_recording(path)
    render_summary(summarize(recording), Console(stderr=stderr, highlight=False), path)


@click.command("report")
@click.argument("recording", metavar="REC")
def command(recording: str) -> int:
    """Summarize a recording again, offline."""
    print_summary(recording)
    return 0
