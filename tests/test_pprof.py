"""pprof profiles: the readers against google/pprof's own goldens, `memgrowth pprof top`
against `go tool pprof -top` (fixed expected outputs, and the real tool when Go is here),
the writer round trip, and hostile bytes."""

from __future__ import annotations

import gzip
import os
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memgrowth.formats.pprof import (
    Function,
    Line,
    Location,
    Profile,
    ProfileError,
    Sample,
    ValueType,
    parse,
    scale_heap_sample,
    serialize,
)
from memgrowth.report.pprof_top import top

from conftest import (
    FIXTURES,
    SHARED_TESTDATA,
    assert_one_line_error,
    require_toolchain,
    run_memgrowth,
)

PPROF = SHARED_TESTDATA / "pprof"
TOPS = FIXTURES / "pprof"
UTC = {**os.environ, "TZ": "UTC"}


def _golden_samples(path: Path) -> list[tuple[list[int], list[int], list[int]]]:
    """(values, location ids, bytes label) of each sample in a google/pprof `.string`
    golden."""
    text = path.read_text()
    samples = []
    rows = re.findall(r"^ +(-?\d[-\d ]*):((?: \d+)*) *\n(?: +bytes:\[(\d+)\])?", text, re.M)
    for values, ids, block in rows:
        samples.append(([int(v) for v in values.split()], [int(i) for i in ids.split()],
                        [int(block)] if block else []))
    return samples


@pytest.mark.parametrize("name", ["gobench.heap", "cppbench.heap", "go.godoc.thread"])
def test_legacy_profiles_match_pprofs_goldens(name):
    profile = parse((PPROF / name).read_bytes())
    golden = _golden_samples(PPROF / f"{name}.string")
    assert len(profile.samples) == len(golden)
    text = (PPROF / f"{name}.string").read_text()
    addresses = {int(m.group(1)): int(m.group(2), 16)
                 for m in re.finditer(r"^ +(\d+): 0x([0-9a-f]+) M=", text, re.M)}
    for sample, (values, ids, block) in zip(profile.samples, golden, strict=True):
        assert sample.values == values
        assert [loc.address for loc in sample.locations] == [addresses[i] for i in ids]
        if block:
            assert sample.num_labels["bytes"] == block
    period = re.search(r"^Period: (\d+)", text, re.M)
    assert profile.period == int(period.group(1))


def test_heap_unsampling_matches_the_runtime():
    # The runtime's and pprof's rule, checked in pprof's notes against the golden.
    assert scale_heap_sample(3, 1572864, 524288) == (4, 2488234)
    assert scale_heap_sample(642, 6574080, 524288) == (33192, 339890635)
    assert scale_heap_sample(0, 0, 524288) == (0, 0)
    assert scale_heap_sample(5, 100, 1) == (5, 100)


TOP_CASES = [(name.removesuffix(".top"), name) for name in sorted(os.listdir(TOPS))
             if name.endswith(".top")]


def _top_args(case: str) -> tuple[str, list[str]]:
    """`gobench.heap.alloc_space` → the file and the flags the fixture was made with."""
    for suffix, flags in (("nodecount10", ["--nodecount", "10"]),):
        if case.endswith("." + suffix):
            return case.removesuffix("." + suffix), flags
    for index in ("alloc_space", "alloc_objects", "inuse_space", "inuse_objects"):
        if case.endswith("." + index):
            return case.removesuffix("." + index), ["--sample-index", index]
    return case, []


@pytest.mark.parametrize(("case", "fixture"), TOP_CASES)
def test_pprof_top_prints_what_go_tool_pprof_prints(case, fixture):
    name, flags = _top_args(case)
    result = run_memgrowth("pprof", "top", str(PPROF / name), *flags, env=UTC)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (TOPS / fixture).read_text()


@pytest.mark.parametrize(("name", "flags"), [
    ("pyroscope_heap_delta.pb.gz", ["-sample_index=inuse_objects"]),
    ("pyroscope_heap_allocs.pb.gz", ["-sample_index=alloc_objects", "-nodecount=25"]),
    ("gobench.heap", ["-sample_index=inuse_objects"]),
    ("cppbench.heap", ["-sample_index=objects"]),
])
def test_pprof_top_against_the_real_go_tool(name, flags):
    require_toolchain("go")
    expected = subprocess.run(["go", "tool", "pprof", "-top", *flags, str(PPROF / name)],
                              capture_output=True, text=True, env=UTC, check=True).stdout
    ours = [f.lstrip("-").replace("sample_index=", "--sample-index=").replace(
        "nodecount=", "--nodecount=") for f in flags]
    result = run_memgrowth("pprof", "top", str(PPROF / name), *ours, env=UTC)
    assert result.stdout == expected


def test_a_diff_base_subtracts_the_old_profile():
    profile = parse((PPROF / "pyroscope_heap_delta.pb.gz").read_bytes())
    same = top(profile, "inuse_space", base=profile)
    assert all(row[0] == "0" for row in same.rows)
    assert "Showing nodes accounting for 0, 0% of" in "\n".join(same.labels)
    result = run_memgrowth("pprof", "top", str(PPROF / "pyroscope_heap_delta.pb.gz"),
                           "--diff-base", str(PPROF / "gobench.heap"), env=UTC)
    assert result.returncode == 0 and "Duration: 420s" in result.stdout


def test_written_profiles_read_back_and_open_in_go_tool_pprof(tmp_path):
    function = Function(1, "app.leak", "app.leak", "/src/app.go", 10)
    caller = Function(2, "main.main", "main.main", "/src/main.go", 3)
    leaf = Location(1, None, 0x1000, [Line(function, 12)])
    root = Location(2, None, 0x2000, [Line(caller, 5)])
    profile = Profile(
        sample_types=[ValueType("inuse_objects", "count"), ValueType("inuse_space", "bytes")],
        samples=[Sample([leaf, root], [10, 10 << 20]), Sample([root], [1, 4096])],
        locations=[leaf, root], functions=[function, caller],
        period_type=ValueType("space", "bytes"), period=524288, time_nanos=1_700_000_000 * 10**9)
    data = serialize(profile)
    again = parse(data)
    assert [s.values for s in again.samples] == [[10, 10 << 20], [1, 4096]]
    assert again.samples[0].locations[0].lines[0].function.name == "app.leak"
    assert top(again).text() == top(profile).text()
    require_toolchain("go")
    path = tmp_path / "written.pb.gz"
    path.write_bytes(data)
    expected = subprocess.run(["go", "tool", "pprof", "-top", str(path)], capture_output=True,
                              text=True, env=UTC, check=True).stdout
    assert "app.leak" in expected
    assert top(again).text() == expected


def test_legacy_debug1_symbols_name_the_functions():
    text = ("heap profile: 2: 2048 [4: 4096] @ heap/1048576\n"
            "2: 2048 [4: 4096] @ 0x4a1b2d 0x401000\n"
            "#\t0x4a1b2c\tmain.leak+0x2c\t/src/main.go:42\n"
            "#\t0x400fff\tmain.main+0x1f\t/src/main.go:9\n\n")
    profile = parse(text.encode())
    names = [loc.lines[0].function.name for loc in profile.samples[0].locations]
    assert names == ["main.leak", "main.main"]
    assert "main.leak" in top(profile).text()


@pytest.mark.parametrize(("data", "message"), [
    (b"", "not a pprof profile"),
    (b"\x1f\x8b\x08\x00garbage", "gzip"),
    (gzip.compress(b"\x08\x96\x01\xff\xff"), "not a pprof profile"),
    (b"heap profile: 1: 2 [3: 4] @ heap/1048576\nnot a row\n", "malformed heap profile line"),
    (b"goroutine profile: total 3\n3 @ 0xzz\n", "malformed goroutine profile line"),
])
def test_bad_profiles_get_one_clear_error(data, message):
    with pytest.raises(ProfileError, match=message):
        parse(data)


def test_wrong_string_indices_and_ids_are_refused():
    good = gzip.decompress((PPROF / "pyroscope_heap_delta.pb.gz").read_bytes())
    from memgrowth.formats.pprof import _messages

    message = _messages()["Profile"]()
    message.ParseFromString(good)
    message.function[0].name = 10**6
    with pytest.raises(ProfileError, match="string index"):
        parse(message.SerializeToString())
    message.ParseFromString(good)
    message.sample[0].location_id.append(10**9)
    with pytest.raises(ProfileError, match="unknown location"):
        parse(message.SerializeToString())


def test_a_profile_without_samples_reports_an_empty_table():
    profile = Profile(sample_types=[ValueType("inuse_space", "bytes")])
    report = top(parse(serialize(profile)))
    assert report.rows == [] and "of 0 total" in report.labels[-1]


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=2000))
def test_parser_fuzz_raw_bytes_only_clean_errors(data):
    try:
        profile = parse(data)
    except ProfileError:
        return
    top(profile)  # whatever parsed can be reported


_SEED = gzip.decompress((PPROF / "pyroscope_heap_delta.pb.gz").read_bytes())


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=len(_SEED) - 1), st.binary(min_size=1, max_size=8),
       st.integers(min_value=0, max_value=len(_SEED)))
def test_parser_fuzz_corrupted_real_profile_only_clean_errors(offset, patch, cut):
    data = (_SEED[:offset] + patch + _SEED[offset + len(patch):])[:cut]
    try:
        profile = parse(data)
    except ProfileError:
        return
    top(profile)


def test_cli_errors_are_one_line(tmp_path):
    assert_one_line_error(run_memgrowth("pprof", "top", str(tmp_path / "none.pb.gz")),
                          "no such file")
    bad = tmp_path / "bad.pb.gz"
    bad.write_bytes(b"\x1f\x8b" + os.urandom(64))
    assert_one_line_error(run_memgrowth("pprof", "top", str(bad)), "gzip")
    assert_one_line_error(run_memgrowth("pprof", "top", str(PPROF / "gobench.heap"),
                                        "--sample-index", "nope"), "sample index 'nope'")
    assert_one_line_error(run_memgrowth("pprof", "top", str(PPROF / "gobench.heap"),
                                        "--diff-base", str(PPROF / "go.godoc.thread")),
                          "other sample types")


def test_names_are_simplified_as_pprof_does():
    from memgrowth.report.pprof_top import display_name

    assert display_name("<module>", "<module>") is None  # pprof prints <unknown>
    assert display_name("<module>", "") == "<module>"  # a name of its own is kept
    assert display_name("std::vector<int>::push_back(int)",
                        "std::vector<int>::push_back(int)") == "std::vector::push_back"
    assert display_name("Foo.<init>", "Foo.<init>") == "Foo.<init>"
    assert display_name("main.(*T[...]).M", "main.(*T[...]).M") == "main.(*T[...]).M"
    assert display_name("a<b", "a<b") == "a<b"
