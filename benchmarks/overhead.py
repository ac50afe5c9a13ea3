"""Overhead of `memgrowth run` on an allocation-heavy request loop.

Each round runs the loop plain, plain again, under `memgrowth run` and under
`memgrowth run --no-agent`, in a random order, all in this one benchmark process; it prints the
median over rounds of each variant's ratio to plain, for the loop's own wall time and CPU time
(measured inside the target, start-up excluded). "plain again" is the noise floor: on a noisy
machine it is not 1.000x, and a difference smaller than its spread means nothing. Separately,
it times the start-up the agent adds to every Python process (`python -c pass` with and
without it). Not a test: timings are never asserted.

    python benchmarks/overhead.py [--rounds 15] [--requests 40000]
"""

from __future__ import annotations

import argparse
import os
import random
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
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    order = random.Random(args.seed)
    plain = [sys.executable, WORKLOAD, str(args.requests)]
    variants: dict[str, list[str] | None] = {
        "plain": None, "plain again (noise)": None, "memgrowth run": ["run"],
        "memgrowth run --no-agent": ["run", "--no-agent"],
    }
    ratios: dict[str, list[tuple[float, float]]] = {n: [] for n in variants if n != "plain"}
    agent_share = []
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.rounds):
            names = list(variants)
            order.shuffle(names)
            measured = {}
            for name in names:
                flags = variants[name]
                out = os.path.join(folder, f"{round_}-{names.index(name)}.db")
                command = plain if flags is None else [
                    sys.executable, "-m", "memgrowth", *flags[:1], "--quiet", *flags[1:],
                    "--out", out, "--", *plain]
                measured[name] = timed(command)
                if flags == ["run"]:
                    used = [v for v in open_recording(out).column("agent_samples", "agent_cpu_s")
                            if v]
                    agent_share.append(max(used) / measured[name][1] if used else float("nan"))
            base = measured["plain"]
            for name in ratios:
                ratios[name].append((measured[name][0] / base[0], measured[name][1] / base[1]))
            print(f"round {round_ + 1:>2}: " + ", ".join(
                f"{name} {measured[name][0]:.3f} s" for name in variants), flush=True)
    print()
    print(f"request loop, {args.requests:,} requests, {args.rounds} rounds; median ratio to plain "
          "(and the middle half of the rounds):")
    for name, values in ratios.items():
        walls = sorted(w for w, _ in values)
        cpus = sorted(c for _, c in values)
        print(f"  {name:<26} loop wall {statistics.median(walls):.3f}x "
              f"[{_quartile(walls, 1):.2f}-{_quartile(walls, 3):.2f}], "
              f"loop CPU {statistics.median(cpus):.3f}x")
    print(f"  agent thread CPU           {statistics.median(agent_share):.2%} of the loop's "
          "CPU time")
    print(f"  agent start-up             {startup_cost() * 1000:+.1f} ms per Python process")


def _quartile(values: list[float], which: int) -> float:
    return statistics.quantiles(values, n=4)[which - 1] if len(values) >= 2 else values[0]


if __name__ == "__main__":
    main()
