"""`memgrowth pprof top FILE`: the table of `go tool pprof -top`, from proto or legacy text."""

from __future__ import annotations

import click

from memgrowth.commands.options import read_file
from memgrowth.errors import UserError
from memgrowth.formats.pprof import Profile, parse
from memgrowth.report.pprof_top import check_comparable, top


def read_profile(path: str) -> Profile:
    """Read a profile file; one clear error when it cannot be read or is not a profile."""
    data = read_file(path, "a profile")
    try:
        return parse(data)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None


@click.group("pprof")
def command() -> None:
    """Read pprof heap (and count) profiles: gzipped profile.proto or legacy text."""


@command.command("top")
@click.argument("file", type=click.Path(dir_okay=True))
@click.option("--sample-index", "sample_index", metavar="NAME",
              help="inuse_space, inuse_objects, alloc_space, alloc_objects… "
                   "(default: the profile's default, else its last sample type)")
@click.option("--diff-base", "diff_base", metavar="OLD",
              help="subtract this profile (growth since OLD)")
@click.option("--nodecount", type=click.IntRange(min=0), default=0, show_default=True,
              help="show at most this many functions (0: all above 0.5% of the total)")
def top_command(file: str, sample_index: str | None, diff_base: str | None,
                nodecount: int) -> None:
    """Flat and cumulative values per function, as `go tool pprof -top` prints them."""
    profile = read_profile(file)
    base = read_profile(diff_base) if diff_base else None
    if base is not None:
        check_comparable(profile, base)
    click.echo(top(profile, sample_index, base=base, node_count=nodecount).text(), nl=False)
