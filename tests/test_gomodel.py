"""The Go runtime model's pure parts: the size-class table against the runtime's published
one, the lookup rules, and the pacer's goals."""

from __future__ import annotations

import re

import pytest

from memgrowth.gomodel.pacer import MIB, Pacer, parse_gogc
from memgrowth.gomodel.sizeclasses import (
    CLASS_SIZES,
    CLASSES,
    allocation_bytes,
    class_for,
    size_class,
)

from conftest import SHARED_TESTDATA

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
