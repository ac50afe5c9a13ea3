"""`memgrowth run [opts] -- CMD ARGS…`: start CMD, record it until it exits."""

from __future__ import annotations

import click

from memgrowth.commands.options import recording_options
from memgrowth.commands.report import html_option, json_option, pprof_option, print_diagnosis
from memgrowth.probes.go import check_url
from memgrowth.recorder import RecorderOptions
from memgrowth.session import record_command


@click.command("run", context_settings={"ignore_unknown_options": True,
                                        "allow_interspersed_args": False})
@recording_options
@json_option
@html_option
@pprof_option
@click.option("--grace", type=float, default=5.0, show_default=True, metavar="S",
              help="Seconds between SIGTERM and SIGKILL when --duration ends the target.")
@click.option("--no-agent", is_flag=True, help="Do not inject the Python agent (OS figures only).")
@click.option("--gctrace", is_flag=True,
              help="Run a Go CMD with GODEBUG=gctrace=1 and record its GC trace lines (taken "
                   "from its stderr; its other output passes through).")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def command(command: tuple[str, ...], out: str | None, overwrite: bool, interval: float | None,
            duration: float | None, limit: int | None, endpoint: str | None, quiet: bool,
            json_path: str | None, html_path: str | None, pprof_path: str | None,
            grace: float,
            no_agent: bool, gctrace: bool) -> int:
    """Start CMD, record its memory until it exits, print the summary.

    memgrowth exits with CMD's exit status (a signal N gives 128+N, as in a shell).
    """
    if endpoint is not None:
        check_url(endpoint)
    options = RecorderOptions(interval=interval, duration=duration, grace=grace, limit=limit,
                              endpoint=endpoint)
    result = record_command(list(command), options, out=out, overwrite=overwrite,
                            agent=not no_agent, quiet=quiet, gctrace=gctrace)
    if not result.write_error:
        print_diagnosis(result.path, json_path, stderr=True, quiet=quiet,
                        pprof_path=pprof_path, html_path=html_path)
    return result.exit.code if result.exit and result.exit.code is not None else 0
