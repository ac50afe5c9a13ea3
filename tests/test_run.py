"""`memgrowth run` on real processes: the curve, exit codes, kills, signals, bad input."""

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from memgrowth.analysis.summary import tree_rss_by_tick
from memgrowth.recording import open_recording

from conftest import (
    assert_one_line_error,
    memgrowth_command,
    run_memgrowth,
    start_recording,
    wait_for_child,
    wait_for_rows,
)

MiB = 1024 * 1024


def _run(tmp_path, *command, args=(), timeout=120):
    out = str(tmp_path / "rec.db")
    result = run_memgrowth("run", "--out", out, *args, "--", *command, timeout=timeout)
    return result, out


def test_recorded_curve_follows_known_allocations(tmp_path, script):
    """A child holds 0, then 60 MiB, then 180 MiB: the recorded RSS steps the same way."""
    target = script("""
        import time
        hold = []
        def step(mib):
            hold.append(bytearray(mib * 1024 * 1024))  # bytearray pages are touched: resident
            time.sleep(1.0)
        time.sleep(1.0)
        step(60)
        step(120)
    """)
    result, out = _run(tmp_path, sys.executable, target, args=("--interval", "0.1"))
    assert result.returncode == 0, result.stderr
    recording = open_recording(out)
    ticks = tree_rss_by_tick(recording)
    assert len(ticks) >= 20
    early = [rss for t, rss in ticks if t < 0.8]
    middle = [rss for t, rss in ticks if 1.5 < t < 1.9]
    late = [rss for t, rss in ticks if t > 2.5]
    assert max(early) < 40 * MiB
    assert 55 * MiB < min(middle) - min(early) < 75 * MiB
    assert 170 * MiB < max(late) - min(early) < 200 * MiB
    # The agent saw the same process from the inside.
    assert recording.rows("agent_samples", pid=recording.root_pid)


def test_exit_code_is_the_targets(tmp_path):
    result, out = _run(tmp_path, sys.executable, "-c", "import sys; sys.exit(3)")
    assert result.returncode == 3
    exit_event = open_recording(out).events("exit")[-1]
    assert exit_event["detail"]["code"] == 3


def test_target_that_exits_at_once_still_gives_a_valid_recording(tmp_path):
    result, out = _run(tmp_path, "true")
    assert result.returncode == 0, result.stderr
    recording = open_recording(out)
    assert [e["kind"] for e in recording.events()][0] == "start"
    assert recording.events("exit")[0]["detail"]["code"] == 0
    report = run_memgrowth("report", out)
    assert report.returncode == 0 and "exit 0" in report.stdout


def test_signal_exit_is_128_plus_n(tmp_path):
    result, out = _run(tmp_path, sys.executable, "-c",
                       "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert result.returncode == 128 + signal.SIGKILL
    detail = open_recording(out).events("exit")[-1]["detail"]
    assert detail["signal"] == "SIGKILL"


def test_duration_stops_the_target_with_sigterm(tmp_path):
    result, out = _run(tmp_path, "sleep", "60", args=("--duration", "1"))
    assert result.returncode == 128 + signal.SIGTERM
    recording = open_recording(out)
    assert recording.events("terminate")[0]["detail"]["signal"] == "SIGTERM"
    assert "duration" in recording.events("stop")[0]["detail"]["reason"]


def test_duration_kills_a_target_that_ignores_sigterm(tmp_path, script):
    target = script("""
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(60)
    """)
    result, out = _run(tmp_path, sys.executable, target,
                       args=("--duration", "1", "--grace", "0.5"))
    assert result.returncode == 128 + signal.SIGKILL
    signals = [e["detail"]["signal"] for e in open_recording(out).events("terminate")]
    assert signals == ["SIGTERM", "SIGKILL"]


def test_target_killed_mid_run(tmp_path, script):
    target = script("import time\nx = bytearray(20 * 1024 * 1024)\ntime.sleep(60)\n")
    recorder, out = start_recording(tmp_path, sys.executable, target)
    child = wait_for_child(recorder)
    wait_for_rows(out, "os_samples", 5)
    child.kill()
    recorder.wait(timeout=30)
    assert recorder.returncode == 128 + signal.SIGKILL
    recording = open_recording(out)
    assert recording.events("exit")[-1]["detail"]["signal"] == "SIGKILL"
    assert max(recording.column("os_samples", "rss")) > 20 * 1024 * 1024


def test_killing_memgrowth_leaves_the_target_alive_and_the_recording_readable(tmp_path, script):
    target = script("import time\ntime.sleep(30)\n")
    recorder, out = start_recording(tmp_path, sys.executable, target)
    child = wait_for_child(recorder)
    wait_for_rows(out, "agent_samples", 3)
    recorder.kill()
    recorder.wait()
    try:
        time.sleep(0.5)
        assert child.is_running() and child.status() != psutil.STATUS_ZOMBIE
        report = run_memgrowth("report", out)
        assert report.returncode == 0, report.stderr
        recording = open_recording(out)
        assert len(recording.rows("os_samples")) >= 3
        assert recording.rows("agent_samples")
    finally:
        child.kill()


def test_sigint_is_forwarded_and_the_recording_closed(tmp_path, script):
    target = script("""
        import time
        try:
            time.sleep(60)
        except KeyboardInterrupt:
            print("target got SIGINT", flush=True)
            raise SystemExit(7)
    """)
    recorder, out = start_recording(tmp_path, sys.executable, target)
    wait_for_child(recorder)
    wait_for_rows(out, "agent_samples", 2)
    recorder.send_signal(signal.SIGINT)
    stdout, _ = recorder.communicate(timeout=30)
    assert "target got SIGINT" in stdout
    assert recorder.returncode == 7
    assert not os.path.exists(out + "-wal"), "closed properly: folded into one file"
    assert open_recording(out).events("exit")[-1]["detail"]["code"] == 7


def test_command_not_found(tmp_path):
    result, out = _run(tmp_path, "no-such-command-memgrowth")
    assert_one_line_error(result, "command not found", "no-such-command-memgrowth")
    assert not os.path.exists(out), "no empty recording is left behind"


def test_unwritable_out(tmp_path):
    result = run_memgrowth("run", "--out", str(tmp_path / "no" / "such" / "r.db"), "--", "true")
    assert_one_line_error(result, "cannot write recording")


def test_second_memgrowth_on_the_same_file(tmp_path):
    recorder, out = start_recording(tmp_path, "sleep", "30")
    try:
        wait_for_child(recorder)
        result = run_memgrowth("run", "--out", out, "--overwrite", "--", "true")
        assert_one_line_error(result, "being written by another memgrowth")
        result = run_memgrowth("run", "--out", out, "--", "true")
        assert_one_line_error(result, "already exists")
    finally:
        recorder.send_signal(signal.SIGTERM)
        recorder.wait(timeout=30)


@pytest.mark.parametrize("args", [("--interval", "0"), ("--duration", "-1"),
                                  ("--limit", "lots")])
def test_bad_options(args):
    assert_one_line_error(run_memgrowth("run", *args, "--", "true"))


def test_quiet_when_piped(tmp_path):
    """Output to a pipe has no live status line: only the summary on stderr."""
    result, _ = _run(tmp_path, sys.executable, "-c", "print('hello from target')")
    assert result.stdout == "hello from target\n"
    assert "\x1b[" not in result.stderr and "● rec" not in result.stderr
    assert "recorded" in result.stderr


def test_live_status_line_on_a_terminal(tmp_path, script):
    """On a terminal the live line shows elapsed time, RSS, Python heap and GC count."""
    import pty

    target = script("""
        import time
        held = []
        for _ in range(130):  # 13 s, +1.5 MiB/s: the live line decides LEAK on the way
            held.append(bytearray(150 * 1024))
            time.sleep(0.1)
    """)
    primary, secondary = pty.openpty()
    recorder = subprocess.Popen(
        memgrowth_command("run", "--out", str(tmp_path / "r.db"), "--", sys.executable, target),
        stdin=secondary, stdout=secondary, stderr=secondary,
        env={**os.environ, "COLUMNS": "160", "TERM": "xterm"},
    )
    os.close(secondary)
    output = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    recorder.wait(timeout=30)
    os.close(primary)
    text = output.decode(errors="replace")
    assert recorder.returncode == 0
    assert "● rec" in text
    assert "RSS" in text and "py blocks" in text and "GCs" in text
    assert "recorded" in text, "the summary follows the live line"
    live_lines = [line for line in text.replace("\r", "\n").splitlines() if "● rec" in line]
    assert any("LEAK" in line for line in live_lines), "the live line shows the verdict"
