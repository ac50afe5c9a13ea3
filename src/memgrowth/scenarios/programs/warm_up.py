"""Not a leak: a service loads its reference data (about 80 MB) during the first seconds, then
serves requests from it with steady, short-lived allocations.

Ground truth: no_leak (plateau after warm-up).
"""

import argparse
import json
import random
import time


def load_reference_data(rows, deadline):
    table = {}
    for i in range(rows):
        table[i] = {"id": i, "name": f"product-{i}", "price": i * 0.01, "blob": "r" * 180}
        if i % 20_000 == 0:
            time.sleep(0.5)  # reading from a slow database
        if time.monotonic() > deadline:
            break
    return table


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--rows", type=int, default=300_000)
    args = parser.parse_args()
    deadline = time.monotonic() + args.seconds
    table = load_reference_data(args.rows, deadline)
    while time.monotonic() < deadline:
        for _ in range(200):
            row = table[random.randrange(len(table))]
            json.loads(json.dumps(row))
        time.sleep(0.02)


if __name__ == "__main__":
    main()
