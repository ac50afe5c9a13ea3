"""`memgrowth demo [NAME]`: run a scenario of the leak zoo end to end, or list them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile

import click
from rich.console import Console
from rich.table import Table

from memgrowth.commands.report import html_option, json_option, print_diagnosis
from memgrowth.errors import UserError
from memgrowth.recorder import RecorderOptions
from memgrowth.scenarios import GO_PROGRAMS, GO_SCENARIOS, SCENARIOS
from memgrowth.session import default_path, record_command


@click.command("demo")
@click.argument("name", required=False)
@click.option("--duration", type=float, metavar="S",
              help="Record this long (default: per scenario).")
@click.option("--out", metavar="REC", help="Recording file (default: in the temp folder).")
@click.option("--quiet", "-q", is_flag=True, help="No live status line.")
@json_option
@html_option
def command(name: str | None, duration: float | None, out: str | None, quiet: bool,
            json_path: str | None, html_path: str | None) -> int:
    """Run a built-in scenario from the leak zoo and print what memgrowth finds."""
    console = Console(highlight=False)
    if name is None:
        table = Table(title="The leak zoo (memgrowth demo NAME)", title_justify="left")
        for column in ("name", "truth", "what it is"):
            table.add_column(column)
        for scenario in [*SCENARIOS.values(), *GO_SCENARIOS.values()]:
            table.add_row(scenario.name, scenario.truth, scenario.title)
        console.print(table)
        return 0
    scenario = SCENARIOS.get(name) or GO_SCENARIOS.get(name)
    if scenario is None:
        raise UserError(f"no scenario named {name!r}; `memgrowth demo` lists them")
    seconds = duration or scenario.seconds
    path = out or os.path.join(tempfile.gettempdir(), default_path([f"demo-{name}"]))
    console.print(f"[bold]demo[/bold] {scenario.name}: {scenario.title} "
                  f"(truth: {scenario.truth}); recording {seconds:g} s…")
    with tempfile.TemporaryDirectory() as folder:
        command_line = scenario.command() if name in SCENARIOS else _go_command(name, folder)
        result = record_command(command_line, RecorderOptions(duration=seconds), out=path,
                                quiet=quiet)
    print_diagnosis(result.path, json_path, html_path=html_path)
    return 0


def _go_command(name: str, folder: str) -> list[str]:
    """Build a Go scenario; its command line, serving its debug endpoints on loopback."""
    if shutil.which("go") is None:
        raise UserError(f"the {name} scenario is a Go program: it needs the Go toolchain "
                        "(`go` on PATH)")
    binary = os.path.join(folder, name)
    built = subprocess.run(["go", "build", "-o", binary, GO_PROGRAMS[name]],
                           capture_output=True, text=True)
    if built.returncode != 0:
        raise UserError(f"go build of {name} failed: {built.stderr.strip()[:300]}")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return [binary, "-seconds", "3600", "-listen", f"127.0.0.1:{port}"]
