"""A real OOM kill: the target runs in a memory cgroup with a small limit and grows past it."""

import os
import sys
import uuid

import pytest

from memgrowth.recording import open_recording

from conftest import run_memgrowth

LIMIT = 120 * 1024 * 1024


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""


def _make_cgroup():
    """A fresh memory cgroup with LIMIT (v1 or v2): (procs file, remove) or skip."""
    name = f"memgrowth-test-{uuid.uuid4().hex[:8]}"
    v1 = "/sys/fs/cgroup/memory"
    v2 = "/sys/fs/cgroup"
    try:
        if os.path.exists(os.path.join(v1, "memory.limit_in_bytes")):
            path = os.path.join(v1, name)
            os.mkdir(path)
            with open(os.path.join(path, "memory.limit_in_bytes"), "w") as handle:
                handle.write(str(LIMIT))
        elif "memory" in _read(os.path.join(v2, "cgroup.controllers")).split():
            path = os.path.join(v2, name)
            os.mkdir(path)
            with open(os.path.join(path, "memory.max"), "w") as handle:
                handle.write(str(LIMIT))
            with open(os.path.join(path, "memory.swap.max"), "w") as handle:
                handle.write("0")
        else:
            pytest.skip("no memory cgroup controller on this machine")
    except OSError as error:
        pytest.skip(f"cgroups are not writable here ({error.strerror})")
    return os.path.join(path, "cgroup.procs"), lambda: os.rmdir(path)


def test_oom_kill_is_recorded(tmp_path, script):
    procs, remove = _make_cgroup()
    grow = script("""
        import time
        hold = []
        while True:
            hold.append(bytearray(4 * 1024 * 1024))
            time.sleep(0.04)  # 100 MB/s: fast, but slow enough for 0.1 s ticks to watch
    """)
    out = str(tmp_path / "oom.db")
    try:
        result = run_memgrowth(
            "run", "--out", out, "--interval", "0.1", "--",
            "sh", "-c", f'echo $$ > {procs} && exec "{sys.executable}" {grow}', timeout=120,
        )
    finally:
        remove()
    assert result.returncode == 137, result.stderr
    recording = open_recording(out)
    exit_detail = recording.events("exit")[-1]["detail"]
    assert exit_detail["signal"] == "SIGKILL"
    assert exit_detail["oom_killed"] is True
    assert recording.events("oom_kill")
    assert recording.events("exec"), "sh exec'd into Python: the recording saw it"
    limits = {r["cgroup_limit"] for r in recording.rows("host_samples") if r["cgroup_limit"]}
    assert LIMIT in limits
    assert max(recording.column("os_samples", "rss")) > LIMIT * 0.7
    report = run_memgrowth("report", out)
    assert "OOM-killed" in report.stdout
