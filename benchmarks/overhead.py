"""Overhead of `memgrowth run` on an allocation-heavy request loop.

Runs the loop plain and under `memgrowth run` alternately, PAIRS pairs in one process of this
benchmark, and prints the median of the per-pair ratios of the loop's own wall time and CPU
time (measured inside the target, start-up excluded). Separately, it times the start-up the
agent adds to every Python process (`python -c pass` with and without it). Not a test:
machines are noisy; pairs run side by side to share that noise, and many short pairs give a
steadier median than a few long ones.

    python benchmarks/overhead.py [--pairs 15] [--requests 40000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "src"))

from memgrowth.probes.python_agent.listener import AgentListener  # noqa: E402
from memgrowth.recording import open_recording  # noqa: E402

WORKLOAD = os.path.join(HERE, "workloads", "request_loop.py")


def timed(command: list[str]) -> tuple[float, float]:
    """(loop wall s, loop CPU s) as the workload measured them."""
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    loop_wall, loop_cpu = map(float, result.stdout.strip().splitlines()[-1].split())
    return loop_wall, loop_cpu


def startup_cost(runs: int = 21) -> float:
    """Median extra seconds the agent adds to starting a Python process."""
    listener = AgentListener()
    try:
        with_agent = listener.environment(dict(os.environ))
        extra = []
        for _ in range(runs):
            times = []
            for env in (dict(os.environ), with_agent):
                started = time.perf_counter()
                subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
                times.append(time.perf_counter() - started)
                listener.receive()
            extra.append(times[1] - times[0])
        return statistics.median(extra)
    finally:
        listener.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=15)
    parser.add_argument("--requests", type=int, default=40_000)
    args = parser.parse_args()
    plain = [sys.executable, WORKLOAD, str(args.requests)]
    ratios: dict[str, list[float]] = {"loop wall": [], "loop CPU": []}
    agent_share = []
    with tempfile.TemporaryDirectory() as folder:
        for pair in range(args.pairs):
            out = os.path.join(folder, f"pair{pair}.db")
            recorded = [sys.executable, "-m", "memgrowth", "run", "--quiet", "--out", out,
                        "--", *plain]
            base = timed(plain)
            under = timed(recorded)
            for name, a, b in zip(ratios, base, under, strict=True):
                ratios[name].append(b / a)
            cpu = [v for v in open_recording(out).column("agent_samples", "agent_cpu_s") if v]
            agent_share.append(max(cpu) / under[1] if cpu else float("nan"))
            print(f"pair {pair + 1}: loop plain {base[0]:.3f} s, under memgrowth {under[0]:.3f} s"
                  f" (ratio {under[0] / base[0]:.3f}; CPU ratio {under[1] / base[1]:.3f})",
                  flush=True)
    print()
    print(f"request loop, {args.requests:,} requests, median of {args.pairs} pairs "
          "(memgrowth run / plain):")
    for name, values in ratios.items():
        print(f"  {name + ' ratio':<20} {statistics.median(values):.3f}x")
    print(f"  agent thread CPU     {statistics.median(agent_share):.2%} of the loop's CPU time")
    print(f"  agent start-up       {startup_cost() * 1000:+.1f} ms per Python process")


if __name__ == "__main__":
    main()
