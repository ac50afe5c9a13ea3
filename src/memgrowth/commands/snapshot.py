"""`memgrowth snapshot PID`: the baseline: runtime figures and where the RSS is."""

from __future__ import annotations

import click
from rich.console import Console

from memgrowth.baseline import snapshot
from memgrowth.report.terminal import render_snapshot


@click.command("snapshot")
@click.argument("pid", type=int)
@click.option("--endpoint", metavar="URL",
              help="A Go service's debug endpoint (default: found among the ports it listens "
                   "on).")
def command(pid: int, endpoint: str | None) -> int:
    """What is this process's memory made of, right now?"""
    render_snapshot(snapshot(pid, endpoint), Console(highlight=False))
    return 0
