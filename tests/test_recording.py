"""The recording: round trip, survival of a killed writer, and every kind of bad file."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from memgrowth.errors import UserError
from memgrowth.recording import (
    SCHEMA_VERSION,
    ProcessInfo,
    RecordingWriter,
    open_recording,
)

from conftest import assert_one_line_error, run_memgrowth


def _sample(t, pid=1, rss=1000):
    return {"t": t, "pid": pid, "rss": rss, "vms": rss * 2, "threads": 1}


def test_round_trip(tmp_path):
    path = str(tmp_path / "r.db")
    writer = RecordingWriter(path, {"command": ["x", "y"], "root_pid": 7})
    writer.upsert_process(ProcessInfo(7, 1, 100.0, ["x", "y"], "/bin/x", first_t=0.0, last_t=0.0))
    for i in range(5):
        writer.write({"os_samples": [_sample(i * 0.5, pid=7, rss=1000 + i)]})
    writer.event(2.0, "exit", pid=7, code=3, signal=None)
    writer.close()
    assert not os.path.exists(path + "-wal"), "a closed recording is one file"
    recording = open_recording(path)
    assert recording.schema_version == SCHEMA_VERSION
    assert recording.meta["command"] == ["x", "y"]
    assert recording.root_pid == 7
    assert recording.column("os_samples", "rss", pid=7) == [1000, 1001, 1002, 1003, 1004]
    assert recording.events("exit")[0]["detail"] == {"code": 3, "signal": None}
    assert recording.processes[0].cmdline == ["x", "y"]
    assert recording.damaged == []


def test_process_upsert_keeps_first_seen_and_updates_end(tmp_path):
    path = str(tmp_path / "r.db")
    writer = RecordingWriter(path, {})
    info = ProcessInfo(9, 1, 5.0, ["a"], None, first_t=1.0, last_t=1.0)
    writer.upsert_process(info)
    info.last_t, info.exit_code, info.runtime = 4.0, 0, "python"
    writer.upsert_process(info)
    writer.close()
    (process,) = open_recording(path).processes
    assert (process.first_t, process.last_t, process.exit_code, process.runtime) == (
        1.0, 4.0, 0, "python")


def test_killed_writer_loses_nothing_committed(tmp_path):
    """SIGKILL the writing process: every committed sample is read back from the WAL."""
    path = str(tmp_path / "killed.db")
    code = textwrap.dedent(f"""
        import sys, time
        from memgrowth.recording import RecordingWriter
        w = RecordingWriter({path!r}, {{"root_pid": 1}})
        for i in range(25):
            w.write({{"os_samples": [{{"t": i, "pid": 1, "rss": i}}]}})
        print("written", flush=True)
        time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "written"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert os.path.exists(path + "-wal"), "the kill left the write-ahead log behind"
    recording = open_recording(path)
    assert recording.column("os_samples", "rss") == list(range(25))
    result = run_memgrowth("report", path)
    assert result.returncode == 0, result.stderr


def test_existing_file_is_not_overwritten(tmp_path):
    path = tmp_path / "r.db"
    path.write_text("precious")
    with pytest.raises(UserError, match="already exists"):
        RecordingWriter(str(path), {})
    assert path.read_text() == "precious"


def test_second_writer_is_refused(tmp_path):
    path = str(tmp_path / "r.db")
    first = RecordingWriter(path, {})
    try:
        with pytest.raises(UserError, match="being written by another memgrowth"):
            RecordingWriter(path, {}, overwrite=True)
    finally:
        first.close()
    RecordingWriter(path, {}, overwrite=True).close()  # free again once the first is done


def test_unwritable_folder(tmp_path):
    with pytest.raises(UserError, match="cannot write recording"):
        RecordingWriter(str(tmp_path / "missing-folder" / "r.db"), {})


def _recording_with_rows(path, rows=2000):
    writer = RecordingWriter(str(path), {"root_pid": 1})
    for i in range(rows):
        writer.write({"os_samples": [_sample(float(i), rss=i)]})
    writer.close()


def test_truncated_recording_reads_what_survived_or_fails_cleanly(tmp_path):
    path = tmp_path / "r.db"
    _recording_with_rows(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    try:
        recording = open_recording(str(path))
    except UserError as error:
        assert str(path) in str(error)
        return
    rows = recording.column("os_samples", "rss")
    assert rows == list(range(len(rows)))
    assert len(rows) < 2000 or recording.damaged


@pytest.mark.parametrize("content", [b"", b"hello, not a database\n", os.urandom(4096)])
def test_not_a_recording(tmp_path, content):
    path = tmp_path / "bad.db"
    path.write_bytes(content)
    with pytest.raises(UserError, match="not a memgrowth recording"):
        open_recording(str(path))
    assert_one_line_error(run_memgrowth("report", str(path)), "not a memgrowth recording")


def test_other_sqlite_file(tmp_path):
    path = tmp_path / "other.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    assert_one_line_error(run_memgrowth("report", str(path)), "not a memgrowth recording")


def test_newer_schema_is_a_clear_error(tmp_path):
    path = str(tmp_path / "future.db")
    RecordingWriter(path, {}).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value=? WHERE key='schema_version'",
               (json.dumps(SCHEMA_VERSION + 1),))
    db.commit()
    db.close()
    assert_one_line_error(run_memgrowth("report", path), "newer", "upgrade memgrowth")


def test_missing_recording(tmp_path):
    assert_one_line_error(run_memgrowth("report", str(tmp_path / "nope.db")), "no such recording")
