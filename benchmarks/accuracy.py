"""Accuracy on the leak zoo: every scenario under `memgrowth run`, and peers beside it.

For each scenario: the truth, memgrowth's verdict, the seconds until that verdict was first
reached and then held to the end (the recording re-diagnosed as it stood each second), and
the top finding. Peers, where installed, run on the same programs: objgraph's show_growth
(a type that grows at every call, after its forced gc.collect(), is its leak signal).

    python benchmarks/accuracy.py [--seconds 30] [NAME ...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "src"))

from memgrowth.analysis.diagnose import diagnose  # noqa: E402
from memgrowth.recording import open_recording  # noqa: E402
from memgrowth.scenarios import SCENARIOS  # noqa: E402

OBJGRAPH_RUNNER = textwrap.dedent("""
    import runpy, sys, threading, time
    import objgraph
    seconds, script = float(sys.argv[1]), sys.argv[2]
    sys.argv = [script, "--seconds", str(seconds)]
    # One running intersection, so that watching adds no objects of its own call after call.
    state = {"calls": 0, "steady": None}
    def watch():
        while True:
            time.sleep(seconds / 6)
            grown = {name for name, *_ in objgraph.growth(limit=5)}
            state["calls"] += 1
            if state["calls"] > 1:  # the first call only sets objgraph's baseline
                previous = state["steady"]
                state["steady"] = grown if previous is None else previous & grown
    threading.Thread(target=watch, daemon=True).start()
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        steady = state["steady"] if state["calls"] > 2 else None
        print("OBJGRAPH", "leak: " + ", ".join(sorted(steady)) if steady else "no signal")
""")


def settled_after(recording, verdict: str, duration: float) -> float | None:
    """First second from which the diagnosis equals `verdict` until the end."""
    settled = None
    second = 2.0
    while second <= duration + 1:
        current = diagnose(recording.until(second)).verdict
        if current == verdict and settled is None:
            settled = second
        elif current != verdict:
            settled = None
        second += 1.0
    return settled


def objgraph_signal(scenario, seconds: float) -> str:
    try:
        import objgraph  # noqa: F401
    except ImportError:
        return "not installed"
    command = [sys.executable, "-c", OBJGRAPH_RUNNER, str(seconds), scenario.command()[1]]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds * 3 + 60)
    lines = [line for line in result.stdout.splitlines() if line.startswith("OBJGRAPH")]
    return lines[-1].removeprefix("OBJGRAPH ") if lines else "failed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="scenarios (default: all)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="record each this long (default: the scenario's own)")
    parser.add_argument("--no-peers", action="store_true")
    args = parser.parse_args()
    names = args.names or list(SCENARIOS)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            scenario = SCENARIOS[name]
            seconds = args.seconds or scenario.seconds
            out = os.path.join(folder, f"{name}.db")
            subprocess.run([sys.executable, "-m", "memgrowth", "run", "--quiet", "--out", out,
                            "--duration", str(seconds), "--", *scenario.command()],
                           check=False, capture_output=True)
            recording = open_recording(out)
            final = diagnose(recording)
            settled = settled_after(recording, final.verdict, seconds)
            top = final.findings[0].title if final.findings else (
                f"growth in {final.metric}" if final.verdict == "leak" else "—")
            peer = "skipped" if args.no_peers else objgraph_signal(scenario, seconds)
            rows.append((name, scenario.truth, final.verdict,
                         "—" if settled is None else f"{settled:.0f} s", top[:60], peer[:40]))
            print(" | ".join(rows[-1]), flush=True)
    print()
    header = ("scenario", "truth", "memgrowth", "settled after", "top finding", "objgraph")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    right = sum(r[1] == r[2] for r in rows)
    print(f"\n{right}/{len(rows)} verdicts right")


if __name__ == "__main__":
    main()
