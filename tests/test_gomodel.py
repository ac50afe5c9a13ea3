"""The Go runtime model's pure parts: the size-class table against the runtime's published
one, the lookup rules, and the pacer's goals."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess

import pytest

from memgrowth import gomodel
from memgrowth.gomodel.pacer import MIB, Pacer, parse_gogc
from memgrowth.gomodel.sizeclasses import (
    CLASS_SIZES,
    CLASSES,
    allocation_bytes,
    class_for,
    size_class,
)

from conftest import SHARED_TESTDATA, assert_one_line_error, build_go, run_memgrowth

TABLE = (SHARED_TESTDATA / "sizeclasses.txt").read_text()


def _array(name: str) -> list[int]:
    return [int(v) for v in re.search(name + r"\s*=\s*\{([^}]*)\}", TABLE).group(1).split(",")]


def test_every_column_of_the_published_table_is_reproduced():
    rows = re.findall(r"^//\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)%", TABLE, re.M)
    assert len(rows) == len(CLASSES) == 67
    for row, computed in zip(rows, CLASSES, strict=True):
        number, size, span, objects, tail, waste = row
        assert (computed.number, computed.size, computed.span_bytes, computed.objects,
                computed.tail_waste) == tuple(int(v) for v in row[:5])
        assert round(computed.max_waste() * 100, 2) == float(waste)


def test_lookup_matches_the_runtimes_two_tables_for_every_size():
    small, large = _array("SizeToSizeClass8"), _array("SizeToSizeClass128")
    for size in range(1, 32769):
        expected = small[(size + 7) // 8] if size <= 1024 else large[(size - 1024 + 127) // 128]
        assert class_for(size) == expected, size
    assert class_for(32769) == 0 and _array("SizeClassToSize") == list(CLASS_SIZES)


def test_headers_and_large_objects():
    assert allocation_bytes(600, pointers=True) == (class_for(608), 640)  # 8-byte header
    assert allocation_bytes(600, pointers=False) == (class_for(600), 640)
    assert allocation_bytes(40_000, pointers=False) == (0, 40_960)  # whole pages
    assert size_class(1).objects == 1024


def test_the_gogc_goal_and_its_minimum():
    pacer = Pacer(gogc=100)
    # The guide's example: 8 MiB live + 1 MiB stacks + 1 MiB globals at GOGC=100 → 18 MiB.
    assert pacer.gogc_goal(8 * MIB, 1 * MIB, 1 * MIB) == 18 * MIB
    assert pacer.goal(1 * MIB) == 4 * MIB  # the 4 MiB minimum
    assert Pacer(gogc=50).goal(0) == 2 * MIB  # scaled by GOGC/100
    assert Pacer(gogc=None).goal(100 * MIB) == float("inf")


def test_the_memory_limit_goal_leaves_headroom_and_never_drops_under_the_live_heap():
    limited = Pacer(gogc=None, memory_limit=512 * MIB)
    goal = limited.goal(100 * MIB, non_heap=12 * MIB)
    assert goal == pytest.approx(500 * MIB * 0.97)
    assert limited.goal(600 * MIB, non_heap=12 * MIB) == 600 * MIB  # thrash: goal = live
    assert Pacer(gogc=100, memory_limit=1 << 40).goal(10 * MIB) == 20 * MIB


def test_the_trigger_sits_inside_the_runway():
    pacer = Pacer()
    assert pacer.trigger(10 * MIB, 20 * MIB) == pytest.approx(10 * MIB + 10 * MIB * 61 / 64)
    assert pacer.trigger(10 * MIB, 20 * MIB, runway=9 * MIB) == pytest.approx(
        10 * MIB + 10 * MIB * 45 / 64)


@pytest.mark.parametrize("text", ["-5", "abc", "1.5", ""])
def test_bad_gogc_values_are_refused(text):
    with pytest.raises(ValueError):
        parse_gogc(text)


def test_gogc_values_parse():
    assert parse_gogc("off") is None and parse_gogc(" 200 ") == 200
    with pytest.raises(ValueError):
        Pacer(gogc=-1)


def test_simulation_jumps_between_collections_and_handles_a_thrashing_limit():
    from memgrowth.gomodel.simulate import parse_spec, simulate

    many = simulate(parse_spec({"phases": [{"allocs": 100_000_000, "size": 64,
                                            "retain": {"ring": 20_000}}]}), Pacer(100))
    assert many.total_alloc_bytes >= 100_000_000 * 64 and many.num_gc > 1000
    # A limit under the live heap: the runtime collects back to back, and so does the model,
    # but it ends.
    thrash = simulate(parse_spec({"phases": [{"allocs": 1_000_000, "size": 1000,
                                              "retain": "all"}]}), Pacer(None, 256 * MIB))
    assert thrash.thrashing and thrash.num_gc > 1000
    calm = simulate(parse_spec({"phases": [{"allocs": 1000, "size": 8}]}), Pacer(None))
    assert calm.num_gc == 0 and not calm.thrashing


@pytest.mark.parametrize(("spec", "message"), [
    ('{"phases": []}', "a workload is"),
    ('{"phases": [{"allocs": -1, "size": 8}]}', "allocs must be"),
    ('{"phases": [{"allocs": 1, "size": 0}]}', "size must be"),
    ('{"phases": [{"allocs": 1, "size": 2000000000000}]}', "size must be"),
    ('{"phases": [{"allocs": 1, "size": 8, "retain": {"ring": -3}}]}', "retain must be"),
    ("{not json", "bad workload spec"),
])
def test_bad_specs_get_one_line(spec, message):
    assert_one_line_error(run_memgrowth("simulate", "--workload", spec), message)


def test_bad_gogc_on_the_command_line_gets_one_line():
    spec = '{"phases": [{"allocs": 1, "size": 8}]}'
    assert_one_line_error(run_memgrowth("simulate", "--workload", spec, "--gogc", "-5"), "GOGC")
    assert_one_line_error(run_memgrowth("simulate", "--workload", spec, "--gomemlimit", "x"))


def test_the_study_experiment_matches_the_real_runtime(tmp_path):
    """1,000,000 objects of 16 bytes, each dead at once, at GOGC 100 and 200: the model's
    collections and peak heap against what the Go runtime does (median of three runs). At
    GOGC=50 the runtime's count drifts with CPU contention (8 quiet, 10 in a loaded CI run):
    the accuracy benchmark, not this test, is where that is measured."""
    spec = '{"phases": [{"allocs": 1000000, "size": 16, "retain": "none"}]}'
    binary = build_go(os.path.join(os.path.dirname(gomodel.__file__), "validate",
                                   "runspec.go"), tmp_path)
    for gogc in ("100", "200"):
        runs = [json.loads(subprocess.run([binary, spec], capture_output=True, text=True,
                                          env={**os.environ, "GOGC": gogc},
                                          check=True).stdout) for _ in range(3)]
        real_gc = statistics.median(r["num_gc"] for r in runs)
        real_peak = statistics.median(r["peak_heap_alloc_bytes"] for r in runs)
        model = json.loads(run_memgrowth("simulate", "--workload", spec, "--gogc", gogc,
                                         "--json").stdout)
        assert abs(model["num_gc"] - real_gc) <= 1, (gogc, model["num_gc"], real_gc)
        assert abs(model["peak_heap_alloc_bytes"] - real_peak) <= 0.15 * real_peak
