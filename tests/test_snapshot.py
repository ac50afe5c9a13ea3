"""`memgrowth snapshot` and `memgrowth.baseline()`: runtime figures and the RSS composition."""

import subprocess
import sys
import time

import psutil
import pytest

import memgrowth
from memgrowth.baseline import snapshot
from memgrowth.probes.smaps import classify, parse_smaps
from memgrowth.recording import open_recording

from conftest import FIXTURES, assert_one_line_error, memgrowth_command, run_memgrowth


def _rss_now(pid):
    return psutil.Process(pid).memory_info().rss


def test_in_process_baseline():
    held = [[i] for i in range(50_000)]  # lists are always GC-tracked
    figures = memgrowth.baseline()
    assert figures.python is not None
    assert figures.python.objects >= 50_000
    assert figures.python.allocated_blocks >= 50_000
    assert figures.python.gc_enabled
    assert len(figures.python.gc_collections) == 3
    total = figures.composition.total.rss
    assert abs(total - figures.rss) <= 0.02 * total
    categories = {row.category for row in figures.composition.rows}
    assert {"heap", "library", "anonymous"} <= categories
    assert any("libpython" in r.name or "python3" in r.name
               for r in figures.composition.rows if r.category in ("library", "file"))
    del held


def test_snapshot_of_a_plain_process_sums_to_its_rss():
    child = subprocess.Popen(["sleep", "30"])
    try:
        time.sleep(0.2)
        result = snapshot(child.pid)
        assert result.python is None
        total = result.composition.total
        assert abs(total.rss - _rss_now(child.pid)) <= 0.02 * total.rss
        assert total.private <= total.rss and total.pss <= total.rss
        cli = run_memgrowth("snapshot", str(child.pid))
        assert cli.returncode == 0, cli.stderr
        assert "Where the RSS is" in cli.stdout and "total" in cli.stdout
        assert "Python" not in cli.stdout
    finally:
        child.kill()
        child.wait()


def test_snapshot_of_a_python_target_asks_its_agent(tmp_path, script):
    target = script("""
        import time
        held = [[i] for i in range(200_000)]
        print("ready", flush=True)
        time.sleep(30)
    """)
    recorder = subprocess.Popen(
        memgrowth_command("run", "--out", str(tmp_path / "r.db"), "--", sys.executable, target),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert recorder.stdout.readline().strip() == "ready"
        (child,) = psutil.Process(recorder.pid).children()
        result = snapshot(child.pid)
        assert result.python is not None, result.python_unavailable
        assert result.python.objects >= 200_000
        assert result.python.version == sys.version.split()[0]
        cli = run_memgrowth("snapshot", str(child.pid))
        assert cli.returncode == 0, cli.stderr
        assert "GC-tracked objects" in cli.stdout and "Where the RSS is" in cli.stdout
    finally:
        recorder.terminate()
        recorder.wait(timeout=30)
    recording = open_recording(str(tmp_path / "r.db"))
    assert recording.rows("agent_samples")
    assert not recording.events("agent_messages_lost"), "replies to snapshot are not numbered"


def test_snapshot_of_python_without_agent_says_why(script):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(0.3)
        result = snapshot(child.pid)
        assert result.python is None
        assert "memgrowth run" in result.python_unavailable
    finally:
        child.kill()
        child.wait()


@pytest.mark.parametrize("pid", ["999999999", "0", "-5"])
def test_snapshot_of_a_missing_pid(pid):
    assert_one_line_error(run_memgrowth("snapshot", "--", pid))


def test_snapshot_of_a_non_numeric_pid():
    assert_one_line_error(run_memgrowth("snapshot", "abc"), "abc")




def test_parse_smaps_groups_every_mapping_once():
    composition = parse_smaps((FIXTURES / "smaps" / "sample.smaps").read_text(), pid=1)
    by_category = {row.category: row for row in composition.rows}
    assert by_category["heap"].rss == 100 * 1024
    assert by_category["anonymous"].swap == 8 * 1024
    assert by_category["library"].name.endswith("libc.so.6")
    assert by_category["library"].pss == 120 * 1024
    assert by_category["file"].rss == 60 * 1024
    assert by_category["stack"].private == 20 * 1024
    assert composition.total.rss == (100 + 40 + 1200 + 60 + 20) * 1024
    assert composition.total.mappings == 5


@pytest.mark.parametrize(("name", "category"), [
    ("[heap]", "heap"), ("", "anonymous"), ("[anon:jemalloc]", "anonymous"),
    ("/usr/lib/python3.11/lib-dynload/_json.cpython-311-x86_64-linux-gnu.so", "library"),
    ("/usr/lib/libssl.so.3", "library"), ("/tmp/data.bin (deleted)", "file"),
    ("[vdso]", "kernel"), ("/dev/shm/x", "shared memory"), ("[stack]", "stack"),
])
def test_classify(name, category):
    assert classify(name)[0] == category
