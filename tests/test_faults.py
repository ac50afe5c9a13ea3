"""The recorder's own failures never reach the target: a real full disk (a tiny tmpfs)."""

import os
import subprocess

import pytest

from memgrowth.recording import open_recording

from conftest import run_memgrowth


@pytest.fixture
def tiny_disk(tmp_path):
    folder = tmp_path / "tiny"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(folder)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_full_disk_stops_the_recording_not_the_target(tiny_disk):
    out = str(tiny_disk / "r.db")
    result = run_memgrowth("run", "--interval", "0.01", "--out", out, "--",
                           "sh", "-c", "sleep 2; echo target finished; exit 4")
    assert result.returncode == 4, "memgrowth still waits for the target and passes its status"
    assert "target finished" in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "recording stopped" in lines[0] and "full" in lines[0]
    assert "Traceback" not in result.stderr
    assert os.path.getsize(out) > 0
    assert open_recording(out).rows("os_samples"), "what was written before the disk filled stays"
