"""The command line: one module per verb under commands/, errors as one clear line."""

from __future__ import annotations

import os
import sys

import click

from memgrowth import __version__
from memgrowth.commands import (
    attach,
    compare,
    demo,
    gctrace,
    gogc,
    pprof,
    report,
    run,
    simulate,
    snapshot,
)
from memgrowth.errors import UserError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="memgrowth")
def cli() -> None:
    """memgrowth: find out why a program's memory grows."""


for verb in (run.command, attach.command, report.command, compare.command, snapshot.command,
             demo.command,
             pprof.command, gctrace.command, simulate.command, gogc.command):
    cli.add_command(verb)


def main(argv: list[str] | None = None) -> None:
    """Entry point: exit with the verb's status; bad input gets one line and status 2."""
    try:
        status = cli.main(args=argv, prog_name="memgrowth", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        hint = f" (see `{exc.ctx.command_path} --help`)" if getattr(exc, "ctx", None) else ""
        print(f"memgrowth: error: {exc.format_message()}{hint}", file=sys.stderr)
        sys.exit(2)
    except UserError as exc:
        print(f"memgrowth: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # a bug of ours: one line, the traceback only when asked for
        if os.environ.get("MEMGROWTH_DEBUG"):
            raise
        print(f"memgrowth: internal error: {type(exc).__name__}: {exc} "
              "(set MEMGROWTH_DEBUG=1 to see where)", file=sys.stderr)
        sys.exit(70)
    sys.exit(status if isinstance(status, int) else 0)
