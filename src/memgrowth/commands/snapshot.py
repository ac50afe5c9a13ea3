"""`memgrowth snapshot PID`: the baseline: runtime figures and where the RSS is."""

from __future__ import annotations

import click
from rich.console import Console

from memgrowth.baseline import snapshot
from memgrowth.report.terminal import render_snapshot


@click.command("snapshot")
@click.argument("pid", type=int)
def command(pid: int) -> int:
    """What is this process's memory made of, right now?"""
    render_snapshot(snapshot(pid), Console(highlight=False))
    return 0
