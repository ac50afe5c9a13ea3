"""The Go model against the real Go runtime: each workload spec runs on the runtime
(gomodel/validate/runspec.go, median of several runs) and in the model, side by side, for
GOGC 50/100/200 and a GOMEMLIMIT with GOGC=off. Prints both, their ratio, and whether the
model is inside the issue's bounds (collections ±15% or ±1 under 8; peak heap ±15%).
Asserts nothing: the runtime's numbers depend on the machine's timing.

    python benchmarks/gomodel_accuracy.py [--runs 9] [--only ring]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "src"))

from memgrowth import gomodel  # noqa: E402
from memgrowth.gomodel.pacer import Pacer, parse_gogc  # noqa: E402
from memgrowth.gomodel.simulate import simulate  # noqa: E402
from memgrowth.gomodel.spec import parse_spec  # noqa: E402
from memgrowth.units import format_bytes, parse_size  # noqa: E402

SPECS = {
    # The study's experiment: a million 16-byte objects, each dead at once.
    "study": {"phases": [{"allocs": 1_000_000, "size": 16, "retain": "none"}]},
    # A cache keeping its last 20,000 entries of 2 KiB (40 MiB live).
    "ring": {"phases": [{"allocs": 400_000, "size": 2048, "retain": {"ring": 20_000}}]},
    # A heap growing from 10 MB to 1 GB.
    "growth": {"phases": [{"allocs": 5_000, "size": 2048, "retain": "all"},
                          {"allocs": 490_000, "size": 2048, "retain": "all"}]},
    # Small pointerful objects, large ones straight from the heap, medium ones kept.
    "mix": {"phases": [
        {"allocs": 2_000_000, "size": 48, "retain": {"ring": 200_000}, "pointers": True},
        {"allocs": 20_000, "size": 100_000, "retain": {"ring": 100}},
        {"allocs": 200_000, "size": 600, "retain": "all", "pointers": True},
    ]},
}
SETTINGS = [("50", None), ("100", None), ("200", None), ("off", "128MiB")]


def real(binary: str, spec: dict, gogc: str, limit: str | None, runs: int) -> dict:
    env = {**os.environ, "GOGC": gogc}
    env.pop("GOMEMLIMIT", None)
    if limit:
        env["GOMEMLIMIT"] = limit
    results = [json.loads(subprocess.run([binary, json.dumps(spec)], capture_output=True,
                                         text=True, env=env, check=True).stdout)
               for _ in range(runs)]
    summary = {key: statistics.median(r[key] for r in results)
               for key in ("num_gc", "peak_heap_alloc_bytes", "peak_live_heap_bytes",
                           "total_alloc_bytes")}
    summary["gc_range"] = (min(r["num_gc"] for r in results),
                           max(r["num_gc"] for r in results))
    summary["peak_range"] = (min(r["peak_heap_alloc_bytes"] for r in results),
                             max(r["peak_heap_alloc_bytes"] for r in results))
    return summary


def within(model: float, runtime: float, counts: bool) -> bool:
    if counts and runtime < 8:
        return abs(model - runtime) <= 1
    return abs(model - runtime) <= 0.15 * runtime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--only", help="run one spec")
    args = parser.parse_args()
    if not shutil.which("go"):
        print("needs the Go toolchain (go) on PATH")
        return 1
    workdir = tempfile.mkdtemp(prefix="memgrowth-gomodel-")
    binary = os.path.join(workdir, "runspec")
    subprocess.run(["go", "build", "-o", binary,
                    os.path.join(os.path.dirname(gomodel.__file__), "validate", "runspec.go")],
                   check=True)
    print(f"GOMAXPROCS={os.cpu_count()}, median of {args.runs} runtime runs per row\n")
    print(f"{'spec':7} {'setting':26} {'GCs model/real':>14} {'(runs)':>9} {'peak model':>10} "
          f"{'peak real':>10} {'(runs)':>15} {'ratio':>5}  ok")
    inside = total = 0
    for name, spec in SPECS.items():
        if args.only and name != args.only:
            continue
        for gogc, limit in SETTINGS:
            runtime = real(binary, spec, gogc, limit, args.runs)
            started = time.perf_counter()
            model = simulate(parse_spec(spec), Pacer(parse_gogc(gogc),
                                                     parse_size(limit) if limit else None))
            elapsed = time.perf_counter() - started
            gc_ok = within(model.num_gc, runtime["num_gc"], counts=True)
            peak_ok = within(model.peak_heap_alloc_bytes, runtime["peak_heap_alloc_bytes"],
                             counts=False)
            inside += gc_ok and peak_ok
            total += 1
            setting = f"GOGC={gogc}" + (f" GOMEMLIMIT={limit}" if limit else "")
            low, high = runtime["peak_range"]
            fewest, most = runtime["gc_range"]
            print(f"{name:7} {setting:26} {model.num_gc:>6}/{runtime['num_gc']:<7g} "
                  f"{f'{fewest}-{most}':>9} "
                  f"{format_bytes(model.peak_heap_alloc_bytes):>10} "
                  f"{format_bytes(runtime['peak_heap_alloc_bytes']):>10} "
                  f"{format_bytes(low) + '-' + format_bytes(high):>15} "
                  f"{model.peak_heap_alloc_bytes / runtime['peak_heap_alloc_bytes']:>5.2f}  "
                  f"{'yes' if gc_ok and peak_ok else 'NO'}  ({elapsed * 1000:.0f} ms)")
    print(f"\n{inside}/{total} rows inside ±15% (collections ±1 under 8)")
    started = time.perf_counter()
    hundred_million = simulate(parse_spec({"phases": [
        {"allocs": 100_000_000, "size": 64, "retain": {"ring": 20_000}}]}), Pacer(100))
    print(f"100 million allocations simulated in {time.perf_counter() - started:.3f} s "
          f"({hundred_million.num_gc:,} collections)")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
