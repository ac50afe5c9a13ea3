"""`memgrowth attach PID` on real processes of any language."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

from memgrowth.recording import open_recording

from conftest import (
    REPO,
    assert_one_line_error,
    memgrowth_command,
    require_toolchain,
    run_memgrowth,
    wait_for_rows,
)


def test_attach_records_a_running_process_for_a_duration(tmp_path, script):
    target = script("""
        import time
        hold = []
        for _ in range(40):
            hold.append(bytearray(1024 * 1024))
            time.sleep(0.05)
        time.sleep(30)
    """)
    child = subprocess.Popen([sys.executable, target])
    try:
        out = str(tmp_path / "a.db")
        result = run_memgrowth("attach", str(child.pid), "--duration", "2.5", "--interval", "0.1",
                               "--out", out)
        assert result.returncode == 0, result.stderr
        assert child.poll() is None, "attach never stops the process"
        recording = open_recording(out)
        rss = recording.column("os_samples", "rss", pid=child.pid)
        assert len(rss) >= 15
        assert rss[-1] - rss[0] > 20 * 1024 * 1024, "it saw the process grow"
        assert recording.meta["mode"] == "attach"
        assert not recording.rows("agent_samples"), "no agent is injected into a running process"
    finally:
        child.kill()
        child.wait()


def test_attach_ends_when_the_process_exits(tmp_path):
    child = subprocess.Popen(["sleep", "1"])
    out = str(tmp_path / "a.db")
    result = run_memgrowth("attach", str(child.pid), "--out", out)
    assert result.returncode == 0, result.stderr
    child.wait()
    assert open_recording(out).events("exit")


def test_ctrl_c_stops_the_recording_not_the_process(tmp_path):
    child = subprocess.Popen(["sleep", "30"])
    out = str(tmp_path / "a.db")
    recorder = subprocess.Popen(memgrowth_command("attach", str(child.pid), "--out", out),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_rows(out, "os_samples", 3)
        recorder.send_signal(signal.SIGINT)
        recorder.wait(timeout=20)
        assert recorder.returncode == 0
        assert child.poll() is None
        assert "SIGINT" in open_recording(out).events("stop")[0]["detail"]["reason"]
    finally:
        child.kill()
        child.wait()


def test_attach_to_a_missing_pid():
    assert_one_line_error(run_memgrowth("attach", "999999999"), "no process with pid 999999999")


def test_attach_without_permission(tmp_path):
    """An unprivileged user may not read a root process's memory map."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to act as another user")
    child = subprocess.Popen(["sleep", "30"])
    try:
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
        result = subprocess.run(
            ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
             *memgrowth_command("attach", str(child.pid), "--out", str(tmp_path / "x.db"))],
            capture_output=True, text=True, env=env, cwd="/", timeout=60,
        )
        if "No module named" in result.stderr or "Permission denied: '" in result.stderr:
            pytest.skip("the test's Python is not usable by user nobody here")
        assert_one_line_error(result, "no permission")
    finally:
        child.kill()
        child.wait()


def test_attach_diagnoses_a_native_program_from_the_outside(tmp_path):
    """A C program (no agent possible) that leaks 2 MB/s: attach alone calls the leak."""
    require_toolchain("gcc")
    source = tmp_path / "leaky.c"
    source.write_text(textwrap.dedent("""
        #include <stdlib.h>
        #include <string.h>
        #include <unistd.h>
        int main(void) {
            for (;;) {
                char *block = malloc(200 * 1024);
                memset(block, 1, 200 * 1024);  /* resident */
                usleep(100 * 1000);            /* 10 blocks a second: 2 MB/s, never freed */
            }
        }
    """))
    binary = tmp_path / "leaky"
    subprocess.run(["gcc", "-O1", "-o", str(binary), str(source)], check=True)
    child = subprocess.Popen([str(binary)])
    try:
        report = tmp_path / "d.json"
        result = run_memgrowth("attach", str(child.pid), "--duration", "14", "--quiet",
                               "--out", str(tmp_path / "a.db"), "--json", str(report))
        assert result.returncode == 0, result.stderr
        diagnosis = json.loads(report.read_text())
        assert diagnosis["verdict"] == "leak"
        assert diagnosis["target"]["runtime"] == "native"
        assert 1.5e6 < diagnosis["growth"]["rate_bytes_per_s"] < 2.6e6
        assert diagnosis["gc"] is None, "no Python agent, no GC figures invented"
        assert diagnosis["exit"]["code"] is None
    finally:
        child.kill()
        child.wait()
