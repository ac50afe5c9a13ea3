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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "src"))

from memgrowth.analysis.diagnose import diagnose  # noqa: E402
from memgrowth.recording import open_recording  # noqa: E402
from memgrowth.scenarios.synthetic import write_day  # noqa: E402


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
