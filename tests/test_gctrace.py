"""GODEBUG=gctrace=1: every format since Go 1.5 parsed, and real Go programs diagnosed from
their own GC logs (a map cache that leaks, a bounded cache with a lazy GC that does not)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memgrowth.analysis.gctrace import diagnose_trace, split_runs
from memgrowth.formats.gctrace import MIB, GcCycle, ScavengerLine, parse, parse_line
from memgrowth.scenarios import GO_PROGRAMS

from conftest import SHARED_TESTDATA, assert_one_line_error, build_go, run_memgrowth

EXAMPLES = (SHARED_TESTDATA / "gctrace_examples.txt").read_text()


def test_every_format_in_the_examples_is_parsed():
    trace = parse(EXAMPLES)
    gc_lines = [line for line in EXAMPLES.splitlines() if line.startswith("gc ")]
    assert len(trace.cycles) == len(gc_lines) == 23
    assert len(trace.scavenger) == 2
    assert trace.other_lines == sum(1 for line in EXAMPLES.splitlines()
                                    if line.strip() and not line.startswith(("gc ", "scvg")))


def test_fields_of_each_era():
    modern = parse_line("gc 4 @0.071s 1%: 0.031+1.1+0.030 ms clock, 1.0+0.093/7.0/2.1+0.96 ms "
                        "cpu, 8->8->7 MB, 9 MB goal, 0 MB stacks, 0 MB globals, 32 P")
    assert isinstance(modern, GcCycle)
    assert (modern.number, modern.at_s, modern.cpu_percent, modern.procs) == (4, 0.071, 1, 32)
    assert modern.clock_ms == (0.031, 1.1, 0.030)
    assert modern.cpu_ms == (1.0, 0.093, 7.0, 2.1, 0.96)
    assert (modern.heap_start, modern.heap_end, modern.heap_live, modern.goal) == \
        (8 * MIB, 8 * MIB, 7 * MIB, 9 * MIB)
    assert modern.stacks == 0 and modern.globals == 0 and not modern.forced
    assert modern.pause_ms == pytest.approx(0.061)
    forced = parse_line("gc 5 @1.820s 0%: 0.064+0.36+0.006 ms clock, 0.51+0/0.25/0.33+0.053 ms "
                        "cpu, 371->371->64 MB, 490 MB goal, 0 MB stacks, 0 MB globals, 8 P "
                        "(forced)")
    assert forced.forced and forced.heap_live == 64 * MIB
    go_1_9 = parse_line("gc 21 @8.223s 0%: 0.032+3.0+0.12ms clock, 1.6+2.8/14/10+4.0 ms cpu, "
                        "87->88->45 MB, 89 MB goal, 24 P")
    assert go_1_9.stacks is None and go_1_9.procs == 24 and go_1_9.clock_ms[-1] == 0.12
    go_1_5 = parse_line("gc #8 @3.934s 70%: 0+316+11+82+330 ms clock, 0+316+0+47/21/0+330 ms "
                        "cpu, 19->20->14 MB, 19 MB goal, 1 P")
    assert go_1_5.number == 8 and len(go_1_5.clock_ms) == 5 and go_1_5.pause_ms == 330
    scavenger = parse_line("scvg59: inuse: 16, idle: 1018, sys: 1035, released: 0, "
                           "consumed: 1035 (MB)")
    assert isinstance(scavenger, ScavengerLine) and scavenger.idle == 1018 * MIB
    assert parse_line("GET /healthz 200 gc 1 @") is None


def test_lines_mixed_with_program_output_and_restarts():
    log = "\n".join(["starting server on :8080",
                     "gc 1 @0.010s 1%: 0.1+1+0.1 ms clock, 0.1+0/1/0+0.1 ms cpu, 4->4->1 MB, "
                     "5 MB goal, 0 MB stacks, 0 MB globals, 8 P",
                     "2026/11/26 request ok gc 2 @0.020s 1%: 0.1+1+0.1 ms clock, "
                     "0.1+0/1/0+0.1 ms cpu, 4->4->1 MB, 5 MB goal, 0 MB stacks, 0 MB globals, 8 P",
                     "restarting",
                     "gc 1 @0.005s 0%: 0.1+1+0.1 ms clock, 0.1+0/1/0+0.1 ms cpu, 4->4->2 MB, "
                     "5 MB goal, 0 MB stacks, 0 MB globals, 8 P"])
    trace = parse(log)
    assert len(trace.cycles) == 3 and trace.other_lines == 2
    assert [len(run) for run in split_runs(trace.cycles)] == [2, 1]
    assert diagnose_trace(trace).cycles[0].heap_live == 2 * MIB


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_line_parses_or_is_skipped(line):
    assert parse_line(line) is None or isinstance(parse_line(line), (GcCycle, ScavengerLine))


@pytest.fixture(scope="module")
def go_logs(tmp_path_factory):
    """Both Go scenarios run for 16 s with GODEBUG=gctrace=1, side by side."""
    folder = tmp_path_factory.mktemp("go")
    running = {}
    for name in ("map-cache", "bounded-cache"):
        binary = build_go(GO_PROGRAMS[name], folder)
        log = folder / f"{name}.log"
        running[name] = (subprocess.Popen([binary, "-seconds", "16"], stderr=log.open("w"),
                                          env={**os.environ, "GODEBUG": "gctrace=1"}), log)
    for process, _ in running.values():
        assert process.wait(timeout=60) == 0
    return {name: log for name, (_, log) in running.items()}


def _diagnosis(log):
    result = run_memgrowth("gctrace", str(log), "--json", "-", "--limit", "1GiB")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_go_map_cache_leak_is_found_from_its_gc_log(go_logs):
    diagnosis = _diagnosis(go_logs["map-cache"])
    assert diagnosis["verdict"] == "leak" and diagnosis["target"]["runtime"] == "go"
    assert 1 * MIB < diagnosis["growth"]["rate_bytes_per_s"] < 4 * MIB  # ~2,000 KiB/s leaked
    assert diagnosis["notes"][0]["kind"] == "heap" and diagnosis["findings"] == []
    assert diagnosis["forecast"]["seconds_to_limit"] > 0
    assert diagnosis["gc"]["collections"] >= 20


def test_a_bounded_cache_with_a_lazy_gc_is_not_a_leak(go_logs):
    diagnosis = _diagnosis(go_logs["bounded-cache"])
    assert diagnosis["verdict"] == "no_leak"
    assert diagnosis["forecast"]["seconds_to_limit"] is None
    timeline = diagnosis["gc"]["timeline"]
    # The lazy GC: the heap reaches about five times what survives each collection.
    assert max(c["heap_start_bytes"] for c in timeline) >= 3 * max(
        c["heap_live_bytes"] for c in timeline)


def test_the_terminal_report_shows_verdict_and_cycles(go_logs):
    result = run_memgrowth("gctrace", str(go_logs["map-cache"]))
    assert result.returncode == 0
    assert "LEAK" in result.stdout and "goal" in result.stdout


def test_bad_input_is_one_line(tmp_path):
    empty = tmp_path / "app.log"
    empty.write_text("nothing about the GC here\n")
    assert_one_line_error(run_memgrowth("gctrace", str(empty)), "no GODEBUG=gctrace=1 lines")
    assert_one_line_error(run_memgrowth("gctrace", str(tmp_path / "none.log")), "no such file")
    piped = subprocess.run([sys.executable, "-m", "memgrowth", "gctrace", "-", "--json", "-"],
                           input=EXAMPLES, capture_output=True, text=True)
    assert piped.returncode == 0 and json.loads(piped.stdout)["gc"]["collections"] == 2
