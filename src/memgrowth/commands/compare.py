"""`memgrowth compare A B [--html F]`: before and after, to prove a fix."""

from __future__ import annotations

import os

import click
from rich.console import Console

from memgrowth.analysis.compare import compare
from memgrowth.analysis.diagnose import diagnose
from memgrowth.analysis.series import from_recording
from memgrowth.commands.report import html_option, write_text
from memgrowth.recording import open_recording
from memgrowth.report.compare_report import render_comparison, render_comparison_html


@click.command("compare")
@click.argument("before", metavar="A")
@click.argument("after", metavar="B")
@html_option
def command(before: str, after: str, html_path: str | None) -> int:
    """Compare two recordings (A before a fix, B after): baseline, peak, average, growth
    rate, collections a minute, pause p99, verdict."""
    recordings = [open_recording(path) for path in (before, after)]
    diagnoses = [diagnose(r) for r in recordings]
    runs = [from_recording(r) for r in recordings]
    comparison = compare(diagnoses[0], runs[0], diagnoses[1], runs[1])
    labels = (os.path.basename(before), os.path.basename(after))
    render_comparison(comparison, labels, Console(highlight=False))
    if html_path:
        write_text(html_path, render_comparison_html(
            comparison, runs[0], runs[1],
            (diagnoses[0].summary.command, diagnoses[1].summary.command), labels))
    return 0
