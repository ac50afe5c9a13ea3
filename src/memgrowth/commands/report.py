"""`memgrowth report REC`: diagnose a recording again, offline (also one cut off by a kill)."""

from __future__ import annotations

import os

import click
from rich.console import Console

from memgrowth.analysis.diagnose import Diagnosis, diagnose
from memgrowth.analysis.series import from_recording
from memgrowth.errors import UserError
from memgrowth.formats.pprof import serialize
from memgrowth.recording import Recording, open_recording
from memgrowth.report.html import render_report
from memgrowth.report.json_report import write_json
from memgrowth.report.pprof_export import sites_profile
from memgrowth.report.terminal import render_diagnosis


def print_diagnosis(path: str, json_path: str | None = None, stderr: bool = False,
                    quiet: bool = False, pprof_path: str | None = None,
                    html_path: str | None = None) -> Diagnosis:
    """Diagnose the recording at PATH, print it (unless quiet), write the JSON, the HTML
    report and the pprof profile of its allocation sites if asked."""
    recording = open_recording(path)
    diagnosis = diagnose(recording)
    if json_path:
        write_json(diagnosis, json_path)
    if html_path:
        write_text(html_path, render_report(diagnosis, from_recording(recording),
                                            recording.meta))
    if pprof_path:
        write_pprof(recording, pprof_path)
    if not quiet:
        render_diagnosis(diagnosis, Console(stderr=stderr, highlight=False), path)
    return diagnosis


def json_option(function):
    return click.option("--json", "json_path", metavar="F",
                        help="Also write the diagnosis as JSON to F ('-' for stdout).")(function)


def _writable(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """Refuse at once a file that could not be written after a long recording."""
    if value is not None:
        folder = os.path.dirname(os.path.abspath(value))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            raise UserError(f"cannot write {value}: its folder does not exist or is not "
                            "writable")
    return value


def html_option(function):
    return click.option("--html", "html_path", metavar="F", callback=_writable,
                        help="Also write the HTML report (one self-contained file) to F."
                        )(function)


def write_text(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}") from None


def pprof_option(function):
    return click.option("--pprof", "pprof_path", metavar="F",
                        help="Also write the Python allocation sites as a pprof heap profile "
                             "(gzipped profile.proto) to F.")(function)


def write_pprof(recording: Recording, path: str) -> None:
    try:
        with open(path, "wb") as handle:
            handle.write(serialize(sites_profile(recording)))
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}") from None


@click.command("report")
@click.argument("recording", metavar="REC")
@json_option
@html_option
@pprof_option
def command(recording: str, json_path: str | None, html_path: str | None,
            pprof_path: str | None) -> int:
    """Diagnose a recording again, offline."""
    print_diagnosis(recording, json_path, quiet=json_path == "-", pprof_path=pprof_path,
                    html_path=html_path)
    return 0
