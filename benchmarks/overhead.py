"""Overhead of `memgrowth run` (attribution on), side by side with the tracers, in one run.

Two workloads: an allocation-heavy request loop (flat heap) and a loop that grows a 500 MB
heap (attribution at work: container scans, allocation windows). Each round runs every
variant of each workload in a random order: plain, plain again, `memgrowth run`,
`memgrowth run --no-agent`, `python -X tracemalloc=1` and `memray run`. It prints the median
over rounds of each variant's ratio to plain, for the loop's own wall and CPU time (measured
inside the target, start-up excluded). "plain again" is the noise floor: on a noisy machine it
is not 1.000x, and a difference smaller than its spread means nothing.

It also prints the agent thread's share of the loop's CPU, the memory the agent adds (peak RSS
under memgrowth minus plain, beside the budget of 5% of the heap + 10 MB), the longest pause
the agent causes on a 1 GB heap (a heartbeat inside the target, plain and under memgrowth, and
the agent's own measure of its longest hold), and the start-up the agent adds to every Python
process. Not a test: timings are never asserted.

    python benchmarks/overhead.py [--rounds 7] [--requests 40000] [--heap-mb 500]
"""

from __future__ import annotations

import argparse
import importlib.util
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

WORKLOADS = os.path.join(HERE, "workloads")
MB = 1_000_000


def measured(command: list[str]) -> list[float]:
    """The numbers the workload printed on its (last numeric) line."""
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    for line in reversed(result.stdout.strip().splitlines()):
        try:
            return [float(v) for v in line.split()]
        except ValueError:
            continue  # a tool's own closing message
    raise RuntimeError(f"no figures in the output of {command}")


def variant_commands(workload: list[str], out: str) -> dict[str, list[str]]:
    memgrowth = [sys.executable, "-m", "memgrowth", "run", "--quiet"]
    commands = {
        "plain": workload,
        "plain again (noise)": workload,
        "memgrowth run": [*memgrowth, "--out", out, "--", *workload],
        "memgrowth run --no-agent": [*memgrowth, "--no-agent", "--out", out + "-n", "--",
                                     *workload],
        "python -X tracemalloc=1": [workload[0], "-X", "tracemalloc=1", *workload[1:]],
    }
    if importlib.util.find_spec("memray") is not None:
        commands["memray run"] = [workload[0], "-m", "memray", "run", "-q", "--force", "-o",
                                  out + ".memray", *workload[1:]]
    return commands


def agent_cpu(out: str) -> float | None:
    used = [v for v in open_recording(out).column("agent_samples", "agent_cpu_s") if v]
    return max(used) if used else None


def agent_pause(out: str) -> float | None:
    pauses = [v for v in open_recording(out).column("agent_samples", "agent_max_pause_s") if v]
    return max(pauses) if pauses else None


def compare(name: str, workload: list[str], rounds: int, order: random.Random,
            folder: str) -> dict:
    """Run every variant `rounds` times in random order; the ratios to plain and more."""
    ratios: dict[str, list[tuple[float, float]]] = {}
    agent_share, extra_rss, plain_rss, pauses = [], [], [], []
    for round_ in range(rounds):
        out = os.path.join(folder, f"{name.split()[0]}-{round_}.db")
        commands = variant_commands(workload, out)
        names = list(commands)
        order.shuffle(names)
        figures = {n: measured(commands[n]) for n in names}
        base = figures["plain"]
        for variant, values in figures.items():
            if variant != "plain":
                ratios.setdefault(variant, []).append((values[0] / base[0], values[1] / base[1]))
        cpu = agent_cpu(out)
        agent_share.append(cpu / figures["memgrowth run"][1] if cpu else float("nan"))
        pauses.append(agent_pause(out) or 0.0)
        if len(base) >= 3:  # the workload reports its peak RSS
            plain_rss.append(base[2])
            extra_rss.append(figures["memgrowth run"][2] - base[2])
        print(f"  round {round_ + 1}: " + ", ".join(
            f"{variant} {figures[variant][0]:.2f} s" for variant in commands), flush=True)
    return {"ratios": ratios, "agent_share": agent_share, "extra_rss": extra_rss,
            "plain_rss": plain_rss, "pauses": pauses}


def report(name: str, result: dict) -> None:
    print(f"{name}: median ratio to plain (middle half of the rounds)")
    for variant, values in result["ratios"].items():
        walls = sorted(w for w, _ in values)
        cpus = sorted(c for _, c in values)
        print(f"  {variant:<26} loop wall {statistics.median(walls):.3f}x "
              f"[{_quartile(walls, 1):.2f}-{_quartile(walls, 3):.2f}], "
              f"loop CPU {statistics.median(cpus):.3f}x")
    print(f"  agent thread CPU           {statistics.median(result['agent_share']):.2%} of the "
          "loop's CPU time")
    print(f"  agent's longest hold       {max(result['pauses']) * 1000:.1f} ms (its own measure)")
    if result["extra_rss"]:
        heap = statistics.median(result["plain_rss"])
        extra = statistics.median(result["extra_rss"])
        budget = 0.05 * heap + 10 * MB
        print(f"  agent memory               {extra / MB:+.1f} MB peak RSS over plain "
              f"({heap / MB:.0f} MB); budget 5% + 10 MB = {budget / MB:.1f} MB")


def pause_check(heap_bytes: float, seconds: float, rounds: int, folder: str) -> None:
    """The heartbeat on a large heap, plain and under memgrowth, alternating."""
    workload = [sys.executable, os.path.join(WORKLOADS, "heartbeat.py"), str(heap_bytes),
                str(seconds)]
    plain, traced, holds = [], [], []
    for round_ in range(rounds):
        out = os.path.join(folder, f"heartbeat-{round_}.db")
        plain.append(measured(workload))
        traced.append(measured([sys.executable, "-m", "memgrowth", "run", "--quiet", "--out",
                                out, "--", *workload]))
        holds.append(agent_pause(out) or 0.0)
    heap = statistics.median(p[2] for p in plain)
    print(f"pauses on a {heap / 1e9:.2f} GB heap ({seconds:.0f} s heartbeat at 1 ms, "
          f"{rounds} rounds): longest delay plain {max(p[0] for p in plain) * 1000:.1f} ms, "
          f"under memgrowth {max(t[0] for t in traced) * 1000:.1f} ms; 99.9th percentile "
          f"{statistics.median(p[1] for p in plain) * 1000:.1f} ms vs "
          f"{statistics.median(t[1] for t in traced) * 1000:.1f} ms; the agent's longest "
          f"hold (its own measure, whole run) {max(holds) * 1000:.1f} ms")


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
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=40_000)
    parser.add_argument("--heap-mb", type=float, default=500)
    parser.add_argument("--pause-heap-mb", type=float, default=1000)
    parser.add_argument("--pause-seconds", type=float, default=15)
    parser.add_argument("--pause-rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    order = random.Random(args.seed)
    workloads = {
        f"request loop ({args.requests:,} requests)":
            [sys.executable, os.path.join(WORKLOADS, "request_loop.py"), str(args.requests)],
        f"heap growing to {args.heap_mb:.0f} MB":
            [sys.executable, os.path.join(WORKLOADS, "heap_growth.py"), str(args.heap_mb * MB)],
    }
    with tempfile.TemporaryDirectory() as folder:
        results = {}
        for name, workload in workloads.items():
            print(f"{name}:", flush=True)
            results[name] = compare(name, workload, args.rounds, order, folder)
        print()
        for name, result in results.items():
            report(name, result)
        pause_check(args.pause_heap_mb * MB, args.pause_seconds, args.pause_rounds, folder)
    print(f"agent start-up: {startup_cost() * 1000:+.1f} ms per Python process")


def _quartile(values: list[float], which: int) -> float:
    return statistics.quantiles(values, n=4)[which - 1] if len(values) >= 2 else values[0]


if __name__ == "__main__":
    main()
