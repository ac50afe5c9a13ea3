"""Shared helpers: run memgrowth as a real command, write small target programs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from memgrowth.recording import open_recording

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_TESTDATA = REPO.parent / "shared" / "testdata"


def memgrowth_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "memgrowth", *args]


def run_memgrowth(*args: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess; returns the completed process (text output)."""
    return subprocess.run(memgrowth_command(*args), capture_output=True, text=True,
                          timeout=timeout, **kwargs)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Bad input: non-zero exit, one line on stderr naming the problem, no traceback."""
    assert result.returncode != 0, result
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("memgrowth: error: "), lines[0]
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def script(tmp_path: Path):
    """Write a Python program into the test's folder and return its path."""

    def write(source: str, name: str = "target.py") -> str:
        path = tmp_path / name
        path.write_text(textwrap.dedent(source))
        return str(path)

    return write


def start_recording(tmp_path, *command, args=()):
    """Start `memgrowth run` in the background; returns (process, recording path)."""
    out = str(tmp_path / "rec.db")
    recorder = subprocess.Popen(
        memgrowth_command("run", "--out", out, *args, "--", *command),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    return recorder, out


def wait_for_child(recorder, timeout=20.0):
    """The target memgrowth started, once it exists."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = psutil.Process(recorder.pid).children()
        if children:
            return children[0]
        time.sleep(0.05)
    raise AssertionError("memgrowth did not start its target")


def wait_for_rows(path, table, count, timeout=20.0):
    """Wait until a recording being written holds COUNT rows of TABLE."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if len(open_recording(path).rows(table)) >= count:
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} rows in {table}")


def require_toolchain(name: str) -> None:
    """Skip with a clear message when a toolchain is missing, except under CI=true."""
    from shutil import which

    if which(name) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is required under CI=true but is not installed")
        pytest.skip(f"{name} is not installed")


def build_go(source: str, folder) -> str:
    """Build one Go program of the zoo into folder; the binary's path."""
    require_toolchain("go")
    binary = os.path.join(str(folder), os.path.basename(source).removesuffix(".go"))
    subprocess.run(["go", "build", "-o", binary, source], check=True, capture_output=True)
    return binary


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
