"""A recording session: open the file, start or join the target, record, close everything.

The verbs `run`, `attach` and `demo` are thin layers over `record_command` and `record_pid`.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import re
import socket
import sys
from dataclasses import dataclass

from memgrowth import __version__
from memgrowth.probes.python_agent.listener import AgentListener
from memgrowth.recorder import Recorder, RecorderOptions
from memgrowth.recording import RecordingWriter
from memgrowth.report.status import StatusLine
from memgrowth.targets import AttachedTarget, ExitStatus, LaunchedTarget


@dataclass
class SessionResult:
    path: str
    exit: ExitStatus | None
    write_error: str | None = None  # why the recording stopped early, if it did


def default_path(command: list[str], now: datetime.datetime | None = None) -> str:
    """`memgrowth-<name>-<time>.db` in the current folder; name from the program or script."""
    now = now or datetime.datetime.now()
    name = os.path.basename(command[0]) if command else "process"
    if name.startswith("python") and len(command) > 1:
        script = next((a for a in command[1:] if not a.startswith("-")), None)
        if script:
            name = os.path.splitext(os.path.basename(script))[0]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:40] or "process"
    return f"memgrowth-{name}-{now:%Y%m%d-%H%M%S}.db"


def _meta(mode: str, command: list[str], options: RecorderOptions,
          cwd: str | None = None) -> dict:
    return {
        "mode": mode, "command": command, "cwd": cwd,
        "started_at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "memgrowth_version": __version__, "recorder_python": platform.python_version(),
        "host": socket.gethostname(), "kernel": platform.release(),
        "interval": options.interval or "adaptive", "limit_flag": options.limit,
        "cpu_count": os.cpu_count(),
    }


def record_command(command: list[str], options: RecorderOptions, out: str | None = None,
                   overwrite: bool = False, agent: bool = True,
                   quiet: bool = False, gctrace: bool = False) -> SessionResult:
    """Start COMMAND with the agent injected and record it until it exits; with `gctrace`,
    under GODEBUG=gctrace=1, its GC trace lines taken from its stderr."""
    path = out or default_path(command)
    writer = RecordingWriter(path, _meta("run", command, options, os.getcwd()),
                             overwrite=overwrite)
    listener = None
    try:
        listener = AgentListener(options.interval) if agent else None
        env = listener.environment(dict(os.environ)) if listener else dict(os.environ)
        if gctrace:
            env["GODEBUG"] = ",".join(filter(None, [env.get("GODEBUG"), "gctrace=1"]))
        target = LaunchedTarget(command, env, capture_stderr=gctrace)
    except BaseException:
        writer.close()
        if listener is not None:
            listener.close()
        with contextlib.suppress(OSError):
            os.unlink(path)  # nothing was recorded: leave no empty file behind
        raise
    return _record(writer, target, options, listener, quiet)


def record_pid(pid: int, options: RecorderOptions, out: str | None = None,
               overwrite: bool = False, quiet: bool = False) -> SessionResult:
    """Record an already running process (any language) until it exits or we are stopped."""
    target = AttachedTarget(pid)
    writer = RecordingWriter(out or default_path(target.command),
                             _meta("attach", target.command, options, target.cwd),
                             overwrite=overwrite)
    return _record(writer, target, options, None, quiet)


def _record(writer: RecordingWriter, target: LaunchedTarget | AttachedTarget,
            options: RecorderOptions, listener: AgentListener | None,
            quiet: bool) -> SessionResult:
    writer.set_meta(root_pid=target.pid)
    recorder = Recorder(writer, target, options, listener, StatusLine(enabled=not quiet))
    try:
        with recorder.signals_forwarded():
            exit_status = recorder.run()
    finally:
        # Whatever happened to us, the target keeps running and the file stays readable.
        writer.close()
        target.close()
        if listener is not None:
            listener.close()
    sys.stdout.flush()
    if recorder.write_error:
        print(f"memgrowth: error: recording stopped, cannot write {writer.path}: "
              f"{recorder.write_error}; the target was left to run", file=sys.stderr)
    return SessionResult(writer.path, exit_status, recorder.write_error)
