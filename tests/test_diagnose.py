"""Diagnosis of recordings written by hand: empty, one sample, cut short, reset counters."""

import json
import sys

import numpy as np

from memgrowth.analysis.diagnose import diagnose
from memgrowth.recording import ProcessInfo, RecordingWriter, open_recording
from memgrowth.report.json_report import to_dict

from conftest import assert_one_line_error, run_memgrowth

MiB = 1 << 20


def _recording(path, rss_of_t=None, seconds=0, agent=None, meta=None):
    writer = RecordingWriter(str(path), {"root_pid": 10, "command": ["app"], **(meta or {})})
    writer.upsert_process(ProcessInfo(10, 1, 1.0, ["app"], None, first_t=0, last_t=seconds))
    for t in np.arange(0.0, seconds, 0.5):
        rows = {"os_samples": [{"t": float(t), "pid": 10, "rss": int(rss_of_t(t)),
                                "threads": 1}],
                "host_samples": [{"t": float(t), "mem_total": 8 << 30}]}
        if agent:
            rows["agent_samples"] = [{"t": float(t), "pid": 10, **agent(t)}]
        writer.write(rows)
    writer.close()
    return open_recording(str(path))


def test_empty_recording_is_inconclusive_with_the_reason(tmp_path):
    diagnosis = diagnose(_recording(tmp_path / "r.db"))
    assert diagnosis.verdict == "inconclusive"
    assert "no samples" in diagnosis.reason
    document = to_dict(diagnosis)
    assert document["verdict"] == "inconclusive" and document["findings"] == []
    json.dumps(document)  # serialisable: no NaN, no numpy types


def test_one_sample_is_inconclusive(tmp_path):
    diagnosis = diagnose(_recording(tmp_path / "r.db", lambda t: 5 * MiB, seconds=0.5))
    assert diagnosis.verdict == "inconclusive"
    assert "1 sample" in diagnosis.reason
    assert diagnosis.record_more_s > 0


def test_forecast_uses_the_limit_flag_first(tmp_path):
    recording = _recording(tmp_path / "r.db", lambda t: 100 * MiB + 2 * MiB * t, seconds=40,
                           meta={"limit_flag": 512 * MiB})
    diagnosis = diagnose(recording)
    assert diagnosis.verdict == "leak"
    assert diagnosis.forecast.limit_source == "flag"
    remaining = (512 * MiB - (100 * MiB + 2 * MiB * 39.5)) / (2 * MiB)
    assert abs(diagnosis.forecast.seconds_to_limit - remaining) < 0.1 * remaining


def test_gc_counters_that_reset_do_not_break_the_diagnosis(tmp_path):
    def agent(t):  # a restarted interpreter under the same pid: counters start again
        collections = int(t * 10) if t < 20 else int((t - 20) * 10)
        return {"allocated_blocks": 50_000, "gc_enabled": 1, "gc_collections0": collections,
                "gc_collections1": 0, "gc_collections2": 0, "threads": 1}

    diagnosis = diagnose(_recording(tmp_path / "r.db", lambda t: 50 * MiB, seconds=40,
                                    agent=agent))
    assert diagnosis.verdict == "no_leak"
    assert diagnosis.runtime == "python"


def test_report_json_to_an_unwritable_place(tmp_path):
    _recording(tmp_path / "r.db", lambda t: 5 * MiB, seconds=12)
    result = run_memgrowth("report", str(tmp_path / "r.db"), "--json",
                           str(tmp_path / "no" / "such" / "d.json"))
    assert_one_line_error(result, "cannot write")


def test_report_json_to_stdout(tmp_path):
    _recording(tmp_path / "r.db", lambda t: 5 * MiB + 1 * MiB * t, seconds=30)
    result = run_memgrowth("report", str(tmp_path / "r.db"), "--json", "-")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["verdict"] == "leak"
    assert document["growth"]["pattern"] == "linear"


def _sawtooth_heap(t):
    return {"allocated_blocks": int(_blocks(t)), "gc_enabled": 1,
            "gc_collections0": int(t / 3), "gc_collections1": 0, "gc_collections2": 0,
            "threads": 1, "malloc_in_use": 2_000_000}


def _blocks(t):
    return 30_000 + 200_000 * ((t % 3) / 3)  # a sawtooth: 3 s between collections


def _arenas(t):
    """RSS of a saw-toothed heap: up with its first peak, then creeping (pymalloc's arenas
    fragment) towards what the peaks can take, 90 bytes per block."""
    first_rise = 90 * 200_000 * min(t, 2.99) / 3
    return 10 * MiB + first_rise + min(0.3 * MiB * t, 9 * MiB)


def test_rss_creeping_up_to_the_heaps_peaks_is_not_a_leak(tmp_path):
    """pymalloc keeps the arenas a saw-toothed heap needs at its peaks: RSS creeps, heap flat."""
    recording = _recording(tmp_path / "r.db", _arenas, seconds=30, agent=_sawtooth_heap)
    diagnosis = diagnose(recording)
    assert diagnosis.rss.verdict == "leak", "the RSS alone looks like a leak"
    assert diagnosis.verdict == "no_leak"
    assert "high-water" in diagnosis.reason


def test_rss_rising_beyond_the_heaps_swings_is_a_native_leak(tmp_path):
    recording = _recording(tmp_path / "r.db", lambda t: _arenas(t) + 4 * MiB * t, seconds=30,
                           agent=_sawtooth_heap)
    diagnosis = diagnose(recording)
    assert diagnosis.verdict == "leak"
    assert diagnosis.findings[0].kind == "native"


def test_memory_kept_by_malloc_after_frees_is_fragmentation_not_a_leak(tmp_path, script):
    """A real process frees most of 300 MB of malloc'd buffers but keeps every 100th: glibc
    cannot give the holes back, RSS stays high and flat."""
    target = script("""
        import time
        buffers = [bytearray(1000) for _ in range(300_000)]  # > 512 bytes: from malloc
        survivors = buffers[::100]
        del buffers
        time.sleep(14)
    """)
    out = str(tmp_path / "frag.db")
    result = run_memgrowth("run", "--quiet", "--out", out, "--json", str(tmp_path / "d.json"),
                           "--", sys.executable, target)
    assert result.returncode == 0, result.stderr
    diagnosis = json.loads((tmp_path / "d.json").read_text())
    assert diagnosis["verdict"] == "no_leak"
    kinds = [f["kind"] for f in diagnosis["findings"]]
    assert "fragmentation" in kinds, diagnosis["findings"]
    finding = diagnosis["findings"][kinds.index("fragmentation")]
    assert "malloc_trim" in finding["advice"]
    assert finding["share"] >= 0.3
