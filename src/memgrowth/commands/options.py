"""Options shared by the recording verbs (`run`, `attach`, `demo`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from memgrowth.errors import UserError
from memgrowth.units import parse_size


def _size(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    size = parse_size(value)
    if size <= 0:
        raise UserError(f"--limit must be positive, got {value!r}")
    return size


def read_file(path: str, what: str) -> bytes:
    """A file the user named, whole; one clear line when it cannot be read (`what` says
    what it should have been: "a profile", "a log")."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path} is a folder, not {what}") from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None


def limit_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """--limit SIZE: the memory limit a forecast runs to."""
    return click.option("--limit", callback=_size, metavar="SIZE",
                        help="Memory limit for the forecast, e.g. 512MiB "
                             "(default: cgroup limit).")(function)


def _positive(_ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and value <= 0:
        raise UserError(f"--{param.name} must be a positive number of seconds, got {value:g}")
    return value


def recording_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """--out, --interval, --duration, --limit, --quiet."""
    decorators = [
        click.option("--out", "out", metavar="REC",
                     help="Recording file (default: memgrowth-<name>-<time>.db here)."),
        click.option("--overwrite", is_flag=True, help="Replace REC if it exists."),
        click.option("--interval", type=float, callback=_positive, metavar="S",
                     help="Sampling period in seconds (default: adaptive, 50 ms rising to 1 s)."),
        click.option("--duration", type=float, callback=_positive, metavar="S",
                     help="Stop after S seconds."),
        limit_option,
        click.option("--endpoint", metavar="URL",
                     help="A Go service's debug endpoint (http://127.0.0.1:6060) for "
                          "/debug/vars and /debug/pprof (default: found among the ports the "
                          "target listens on)."),
        click.option("--quiet", "-q", is_flag=True, help="No live status line, no summary."),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function
