"""The process being recorded: one we launched (`run`) or one we joined (`attach`).

Both expose the same small surface to the recorder: the root pid, a file descriptor that
becomes readable when the root exits, its exit status, and a way to stop it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass

import psutil

from memgrowth.errors import UserError


@dataclass
class ExitStatus:
    """How the root process ended, shell-style: signals become 128+N."""

    code: int | None  # the exit status a shell would report; None when unknown (attach)
    signal: int | None = None

    @property
    def signal_name(self) -> str | None:
        if self.signal is None:
            return None
        try:
            return signal.Signals(self.signal).name
        except ValueError:
            return f"signal {self.signal}"

    @classmethod
    def from_returncode(cls, returncode: int) -> ExitStatus:
        if returncode < 0:
            return cls(code=128 - returncode, signal=-returncode)
        return cls(code=returncode)


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None  # old kernel or Python: the recorder polls instead


class LaunchedTarget:
    """A command memgrowth starts and owns."""

    def __init__(self, command: list[str], env: dict[str, str],
                 capture_stderr: bool = False) -> None:
        if not command:
            raise UserError("no command given: use `memgrowth run -- CMD ARGS…`")
        try:
            self.popen = subprocess.Popen(command, env=env,
                                          stderr=subprocess.PIPE if capture_stderr else None)
        except FileNotFoundError:
            raise UserError(f"command not found: {command[0]}") from None
        except PermissionError:
            raise UserError(f"cannot execute {command[0]}: permission denied") from None
        except OSError as exc:
            raise UserError(f"cannot start {command[0]}: {exc.strerror}") from None
        self.pid = self.popen.pid
        self.command = list(command)
        self.process = psutil.Process(self.pid)
        self.exit_fd = _pidfd(self.pid)
        # The target's stderr, when memgrowth reads it (`run --gctrace`).
        self.stderr_fd = self.popen.stderr.fileno() if self.popen.stderr else None

    def poll(self) -> ExitStatus | None:
        returncode = self.popen.poll()
        return None if returncode is None else ExitStatus.from_returncode(returncode)

    def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.popen.send_signal(signum)

    def close(self) -> None:
        if self.exit_fd is not None:
            os.close(self.exit_fd)
            self.exit_fd = None


class AttachedTarget:
    """A running process memgrowth observes but does not own: it is never signalled."""

    def __init__(self, pid: int) -> None:
        if pid <= 0:
            raise UserError(f"not a process id: {pid}")
        try:
            self.process = psutil.Process(pid)
            self.command = self.process.cmdline()
            self.process.memory_info()
        except psutil.NoSuchProcess:
            raise UserError(f"no process with pid {pid}") from None
        except psutil.ZombieProcess:
            raise UserError(f"pid {pid} has already exited (zombie)") from None
        except psutil.AccessDenied:
            raise UserError(f"no permission to observe pid {pid}: run as its user or as root") \
                from None
        if pid == os.getpid():
            raise UserError("memgrowth cannot attach to itself")
        try:  # statm is world-readable; the memory map is what proves we may observe it
            with open(f"/proc/{pid}/smaps_rollup", "rb") as handle:
                handle.read(1)
        except PermissionError:
            raise UserError(f"no permission to observe pid {pid}: run as its user or as root") \
                from None
        except OSError:
            pass  # kernels without smaps_rollup: USS/PSS stay unknown
        self.pid = pid
        self.exit_fd = _pidfd(pid)
        try:
            self.cwd: str | None = self.process.cwd()
        except psutil.Error:
            self.cwd = None

    def poll(self) -> ExitStatus | None:
        try:
            if self.process.is_running() and self.process.status() != psutil.STATUS_ZOMBIE:
                return None
        except psutil.NoSuchProcess:
            pass
        return ExitStatus(code=None)  # not our child: its exit status is not ours to read

    def signal(self, signum: int) -> None:
        """Attached targets are left alone."""

    def close(self) -> None:
        if self.exit_fd is not None:
            os.close(self.exit_fd)
            self.exit_fd = None
