"""How long `memgrowth report` takes on a day-long recording.

Writes a synthetic 24-hour recording at one sample a second (a Python service: OS, host and
agent samples every second, a collection every 2 s, a slow leak under a GC sawtooth), then
times reading it and diagnosing it, each three times. Not a test: timings are printed.

    python benchmarks/analysis_speed.py [--hours 24]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "src"))

from memgrowth.analysis.diagnose import diagnose  # noqa: E402
from memgrowth.recording import ProcessInfo, RecordingWriter, open_recording  # noqa: E402


def write_day(path: str, hours: float) -> int:
    seconds = int(hours * 3600)
    writer = RecordingWriter(path, {"root_pid": 7, "command": ["python", "service.py"]})
    writer.upsert_process(ProcessInfo(7, 1, 1.0, ["python", "service.py"], None,
                                      runtime="python", first_t=0, last_t=seconds))
    rng = np.random.default_rng(1)
    chunk = 3600
    for start in range(0, seconds, chunk):
        t = np.arange(start, min(start + chunk, seconds), dtype=float)
        rss = 300e6 + 50.0 * t + 20e6 * ((t % 120) / 120) + rng.normal(0, 1e6, len(t))
        blocks = 2e6 + 0.4 * t + 1e5 * ((t % 120) / 120)
        writer.write({
            "os_samples": [{"t": float(a), "pid": 7, "rss": int(b), "threads": 12}
                           for a, b in zip(t, rss, strict=True)],
            "host_samples": [{"t": float(a), "mem_total": 8 << 30} for a in t],
            "agent_samples": [{"t": float(a), "pid": 7, "allocated_blocks": int(b),
                               "gc_enabled": 1, "threads": 12, "gc_collections0": int(a / 2),
                               "gc_collections1": 0, "gc_collections2": 0}
                              for a, b in zip(t, blocks, strict=True)],
            "gc_events": [{"t": float(a), "pid": 7, "generation": 0, "duration_s": 0.0004,
                           "collected": 100, "uncollectable": 0} for a in t[::2]],
        })
    writer.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "day.db")
        seconds = write_day(path, args.hours)
        size = os.path.getsize(path)
        reads, analyses = [], []
        for _ in range(3):
            started = time.perf_counter()
            recording = open_recording(path)
            reads.append(time.perf_counter() - started)
            started = time.perf_counter()
            diagnosis = diagnose(recording)
            analyses.append(time.perf_counter() - started)
    print(f"{args.hours:g} h at 1 sample/s: {seconds:,} ticks, {size / 1e6:.0f} MB recording")
    print(f"  read the recording:  {statistics.median(reads):.2f} s (median of 3)")
    print(f"  diagnose (analysis): {statistics.median(analyses):.2f} s (median of 3)")
    print(f"  verdict: {diagnosis.verdict}, {diagnosis.pattern}, "
          f"{diagnosis.rate_bytes_per_s:.1f} B/s (true rate 50 B/s)")


if __name__ == "__main__":
    main()
