"""`memgrowth attach PID`: record a running process until Ctrl-C, --duration or its exit."""

from __future__ import annotations

import click

from memgrowth.commands.options import recording_options
from memgrowth.commands.report import html_option, json_option, print_diagnosis
from memgrowth.probes.go import check_endpoint
from memgrowth.recorder import RecorderOptions
from memgrowth.session import record_pid


@click.command("attach")
@recording_options
@json_option
@html_option
@click.argument("pid", type=int)
def command(pid: int, out: str | None, overwrite: bool, interval: float | None,
            duration: float | None, limit: int | None, endpoint: str | None, quiet: bool,
            json_path: str | None, html_path: str | None) -> int:
    """Record a running process (any language) from the outside.

    The process is never signalled: Ctrl-C stops the recording, not the process.
    """
    if endpoint is not None:
        check_endpoint(endpoint)  # the service runs already: it must answer now
    options = RecorderOptions(interval=interval, duration=duration, limit=limit,
                              endpoint=endpoint)
    result = record_pid(pid, options, out=out, overwrite=overwrite, quiet=quiet)
    if result.write_error:
        return 1
    print_diagnosis(result.path, json_path, stderr=True, quiet=quiet, html_path=html_path)
    return 0
