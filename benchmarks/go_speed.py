"""Go-side costs: parsing a large pprof profile against `go tool pprof -top`, and what the
Go probe's polling (MemStats and goroutines every second, profiles every 10 s) costs an
allocation-heavy Go loop. Prints ratios measured side by side in one run; asserts nothing.

    python benchmarks/go_speed.py [--profile-mb 50] [--rounds 5] [--seconds 8]
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "src"))

from memgrowth.formats.pprof import (  # noqa: E402
    Function,
    Line,
    Location,
    Mapping,
    Profile,
    Sample,
    ValueType,
    parse,
    serialize,
)
from memgrowth.report.pprof_top import top  # noqa: E402


def large_profile(target_bytes: int, seed: int = 1) -> bytes:
    """A heap profile shaped like a big Go service's: thousands of functions, deep stacks,
    samples until the uncompressed protobuf reaches about target_bytes."""
    rng = random.Random(seed)
    mapping = Mapping(1, 0x400000, 0x4000000, 0, "/srv/bigservice")
    functions = [Function(i + 1, f"pkg{i % 97}.(*Type{i % 13}).Method{i}", f"sym{i}",
                          f"/src/pkg{i % 97}/file{i % 31}.go", i) for i in range(6000)]
    locations = [Location(i + 1, mapping, 0x400000 + 16 * i,
                          [Line(functions[rng.randrange(len(functions))], rng.randrange(1, 900))])
                 for i in range(40000)]
    kinds = [ValueType("alloc_objects", "count"), ValueType("alloc_space", "bytes"),
             ValueType("inuse_objects", "count"), ValueType("inuse_space", "bytes")]
    profile = Profile(sample_types=kinds, mappings=[mapping], locations=locations,
                      functions=functions, period_type=ValueType("space", "bytes"),
                      period=524288)
    # About 67 bytes of protobuf per sample with 20 frames (measured).
    for _ in range(max(1, target_bytes // 67)):
        stack = [locations[rng.randrange(len(locations))] for _ in range(20)]
        size = rng.choice((16, 64, 512, 4096, 32768))
        count = rng.randrange(1, 50)
        profile.samples.append(Sample(stack, [count, count * size, count // 2,
                                              count // 2 * size]))
    return serialize(profile)


def time_parse(path: str, rounds: int) -> tuple[float, float]:
    ours, theirs = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        with open(path, "rb") as handle:
            top(parse(handle.read()))
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        subprocess.run(["go", "tool", "pprof", "-top", path], capture_output=True, check=True)
        theirs.append(time.perf_counter() - started)
    return statistics.median(ours), statistics.median(theirs)


def probe_overhead(folder: str, rounds: int, seconds: float) -> tuple[float, float]:
    """(median ops/s plain, median ops/s under memgrowth run) of the Go loop."""
    binary = os.path.join(folder, "go_alloc_loop")
    subprocess.run(["go", "build", "-o", binary, os.path.join(HERE, "workloads",
                                                             "go_alloc_loop.go")], check=True)
    plain, probed = [], []
    for round_ in range(rounds):
        for variant in random.Random(round_).sample(["plain", "memgrowth"], 2):
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
            command = [binary, "-seconds", str(seconds), "-listen", f"127.0.0.1:{port}"]
            if variant == "memgrowth":
                command = [sys.executable, "-m", "memgrowth", "run", "--quiet", "--out",
                           os.path.join(folder, f"{round_}.db"), "--", *command]
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            rate = float(out.strip().splitlines()[0])
            (plain if variant == "plain" else probed).append(rate)
    return statistics.median(plain), statistics.median(probed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile-mb", type=float, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "big.pb.gz")
        data = large_profile(int(args.profile_mb * 1e6))
        with open(path, "wb") as handle:
            handle.write(data)
        import gzip

        raw = len(gzip.decompress(data))
        ours, theirs = time_parse(path, max(1, args.rounds // 2))
        print(f"pprof top of a {raw / 1e6:.1f} MB profile ({len(data) / 1e6:.1f} MB gzipped): "
              f"memgrowth {ours:.2f} s, go tool pprof {theirs:.2f} s, ratio {ours / theirs:.2f}x")
        plain, probed = probe_overhead(folder, args.rounds, args.seconds)
        print(f"Go probe (MemStats + goroutines every 1 s, heap and goroutine profiles every "
              f"10 s) on an allocation loop, {args.rounds} rounds of {args.seconds:g} s: "
              f"{plain:,.0f} ops/s plain, {probed:,.0f} under memgrowth run, "
              f"ratio {plain / probed:.3f}x")


if __name__ == "__main__":
    main()
