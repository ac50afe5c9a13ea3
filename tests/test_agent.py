"""The Python agent inside real targets: children of every kind, GC, threads, tasks, chaining."""

import sys

from memgrowth.probes.python_agent.listener import decode
from memgrowth.recording import open_recording

from conftest import run_memgrowth


def _record(tmp_path, target, *args, extra=()):
    out = str(tmp_path / "rec.db")
    result = run_memgrowth("run", "--out", out, "--interval", "0.1", *extra, "--",
                           sys.executable, target, *args)
    assert result.returncode == 0, result.stderr
    return result, open_recording(out)


def _agent_pids(recording):
    return {row["pid"] for row in recording.rows("agent_samples")}


def test_multiprocessing_spawn_child_is_recorded_with_its_own_pid(tmp_path, script):
    target = script("""
        import multiprocessing as mp, os, time

        def work(queue):
            queue.put(os.getpid())
            time.sleep(0.5)
            data = [[i] for i in range(20000)]
            time.sleep(1.0)

        if __name__ == "__main__":
            mp.set_start_method("spawn")
            queue = mp.Queue()
            child = mp.Process(target=work, args=(queue,))
            child.start()
            print("child", queue.get(), flush=True)
            child.join()
    """)
    result, recording = _record(tmp_path, target)
    child_pid = int(result.stdout.split("child")[1].split()[0])
    assert child_pid in _agent_pids(recording)
    assert recording.root_pid in _agent_pids(recording)
    child = next(p for p in recording.processes if p.pid == child_pid)
    assert child.runtime == "python"
    assert any(r["pid"] == child_pid for r in recording.rows("os_samples"))
    # The child's own heap is bigger than at its start: 20,000 bytearrays are held.
    blocks = recording.column("agent_samples", "allocated_blocks", pid=child_pid)
    assert max(blocks) - blocks[0] > 15_000


def test_forked_child_and_subprocess_child_report_separately(tmp_path, script):
    target = script("""
        import os, subprocess, sys, time
        pid = os.fork()
        if pid == 0:
            held = [dict(a=i) for i in range(30000)]
            time.sleep(1.2)
            os._exit(0)
        print("forked", pid, flush=True)
        sub = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.2)"])
        print("sub", sub.pid, flush=True)
        sub.wait()
        os.waitpid(pid, 0)
    """)
    result, recording = _record(tmp_path, target)
    words = result.stdout.split()
    forked, sub = int(words[words.index("forked") + 1]), int(words[words.index("sub") + 1])
    assert {recording.root_pid, forked, sub} <= _agent_pids(recording)
    hellos = {e["pid"]: e["detail"] for e in recording.events("agent")}
    assert hellos[forked]["forked_from"] == recording.root_pid
    assert hellos[sub]["forked_from"] is None
    spawned = {e["pid"] for e in recording.events("spawn")}
    assert {forked, sub} <= spawned


def test_gc_events_thresholds_and_disable(tmp_path, script):
    target = script("""
        import gc, time
        gc.set_threshold(500, 7, 9)
        for _ in range(40):
            junk = [[i] for i in range(5000)]
        gc.collect()
        time.sleep(0.6)
        gc.disable()
        time.sleep(0.6)
    """)
    _, recording = _record(tmp_path, target)
    events = recording.rows("gc_events")
    assert len(events) >= 40
    assert {0, 2} <= {e["generation"] for e in events}
    assert all(e["duration_s"] >= 0 for e in events)
    samples = recording.rows("agent_samples")
    assert (samples[-1]["gc_threshold0"], samples[-1]["gc_threshold1"],
            samples[-1]["gc_threshold2"]) == (500, 7, 9)
    assert samples[-1]["gc_enabled"] == 0
    assert any(s["gc_enabled"] == 1 for s in samples)


def test_threads_and_asyncio_tasks_are_counted(tmp_path, script):
    target = script("""
        import asyncio, threading, time

        stop = threading.Event()
        threads = [threading.Thread(target=stop.wait) for _ in range(6)]
        for t in threads:
            t.start()

        async def main():
            never = [asyncio.create_task(asyncio.sleep(3600)) for _ in range(25)]
            await asyncio.sleep(1.0)
            for task in never:
                task.cancel()

        asyncio.run(main())
        stop.set()
    """)
    _, recording = _record(tmp_path, target)
    samples = recording.rows("agent_samples")
    assert max(s["threads"] for s in samples) >= 7
    assert max(s["asyncio_tasks"] or 0 for s in samples) >= 25
    assert max(r["threads"] for r in recording.rows("os_samples")) >= 7


def test_existing_sitecustomize_still_runs(tmp_path, script):
    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "sitecustomize.py").write_text("import builtins\nbuiltins.CUSTOMIZED = 'yes'\n")
    target = script("print('customized:', CUSTOMIZED)")
    out = str(tmp_path / "rec.db")
    import os
    env = {**os.environ, "PYTHONPATH": str(custom)}
    result = run_memgrowth("run", "--out", out, "--", sys.executable, target, env=env)
    assert result.returncode == 0, result.stderr
    assert "customized: yes" in result.stdout
    assert open_recording(out).rows("agent_samples") or open_recording(out).events("agent")


def test_agent_stays_silent_in_the_target(tmp_path, script):
    """Nothing of the agent shows in the target's output, even through fork and exit."""
    target = script("""
        import os, sys
        for _ in range(3):
            pid = os.fork()
            if pid == 0:
                sys.exit(0)
            os.waitpid(pid, 0)
        print("done")
    """)
    out = str(tmp_path / "rec.db")
    result = run_memgrowth("run", "--quiet", "--out", out, "--", sys.executable, target)
    assert result.returncode == 0
    assert result.stdout == "done\n"
    assert result.stderr == ""


def test_no_agent_and_isolated_python(tmp_path, script):
    target = script("import time; time.sleep(0.5)")
    _, recording = _record(tmp_path, target, extra=("--no-agent",))
    assert not recording.rows("agent_samples")
    assert recording.rows("os_samples")
    out = str(tmp_path / "isolated.db")
    result = run_memgrowth("run", "--out", out, "--", sys.executable, "-I", target)
    assert result.returncode == 0
    assert not open_recording(out).rows("agent_samples"), "-I ignores PYTHONPATH"


def test_hostile_datagrams_are_dropped():
    for data in (b"", b"\xff\xfe", b"[]", b'{"type": "sample"}', b'{"type":"sample","pid":-1}',
                 b'{"type":"eval","pid":5}', b'{"type":"gc","pid":5,"events":[[1,"x",2,3,4,5]]}',
                 b"[" * 100000):
        message = decode(data)
        assert message is None or message.gc_events == []
    message = decode(b'{"type":"sample","pid":5,"mono":1.5,"allocated_blocks":"<script>",'
                     b'"threads":3}')
    assert message.fields["allocated_blocks"] is None and message.fields["threads"] == 3


def test_agent_encoder_writes_json_the_listener_reads():
    import json

    from memgrowth.probes.python_agent.inject import _memgrowth_agent as agent

    value = {"type": "hello", "pid": 5, "argv": ['a"b', "c\\d", "tab\there", "<script>", "é\x01"],
             "x": [1.5, None, True, float("nan")], "nested": [{"k": 1}]}
    decoded = json.loads(agent.encode(value))
    assert decoded["argv"] == value["argv"]
    assert decoded["x"] == [1.5, None, True, None]
    assert decoded["nested"] == [{"k": 1}]


def test_agent_keeps_reporting_through_busy_promotion_histograms(tmp_path, script):
    """Generation-1 collections many times a second, promotion histograms taken in the GC hook
    while the agent thread reports: the agent keeps reporting to the end. (A smoke test: the
    race that once stopped the agent in a zoo run was too rare to reproduce here on demand.)"""
    target = script("""
        import random, time
        keep = [[i] for i in range(5000)]
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            for _ in range(2000):  # survivors of young collections: gen-1 work all the time
                keep[random.randrange(5000)] = [random.random()]
    """)
    _, recording = _record(tmp_path, target, extra=("--interval", "0.05"))
    times = recording.column("agent_samples", "t")
    assert times and max(times) >= 5.0, "the agent reported until the end"
    assert len(times) >= 60
    assert recording.column("type_samples", "type_name"), "histograms were taken"
    assert "list" in recording.column("type_samples", "type_name")


def test_histograms_taken_before_the_agents_first_tick_are_reported(tmp_path, script):
    """Promotion histograms start with the target's first generation-1 collections; the
    helpers that name their types load at the agent's first tick. Reporting them used to need
    the helpers before loading them: the tick failed, its sample was lost, and with
    histograms before every tick the agent gave up (a CI run saw no types at all)."""
    target = script("""
        import gc, time
        keep = []
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:  # generation-1 collections from the very start
            keep.append([len(keep)])
            gc.collect(1)
            time.sleep(0.05)
    """)
    _, recording = _record(tmp_path, target, extra=("--interval", "0.5"))
    times = sorted(recording.column("agent_samples", "t"))
    assert len(times) >= 3, times
    reported = recording.column("type_samples", "t")
    # The histograms of the first half second go out with the first reports, not lost.
    assert reported and min(reported) <= times[1], (reported[:1], times[:2])


def test_the_agent_survives_reporting_while_the_target_imports_json(tmp_path, script):
    """The agent encodes with the target's json once loaded; while the target is still
    importing it, the half-made module has no dumps yet. That once killed the agent's thread
    at its first report (seen in CI when several targets started together)."""
    package = tmp_path / "json"
    package.mkdir()
    (package / "__init__.py").write_text("import time\ntime.sleep(1.0)  # a slow import\n")
    target = script("""
        import json, time
        time.sleep(2.0)
    """)
    _, recording = _record(tmp_path, target)
    assert recording.events("agent"), "the agent's hello arrived"
    assert len(recording.rows("agent_samples")) >= 10
