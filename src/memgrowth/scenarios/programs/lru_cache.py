"""Not a leak: a price lookup memoised with functools.lru_cache(maxsize=20000). The cache fills
during the first seconds, then evicts as fast as it adds: memory rises, then stays flat.

Ground truth: no_leak (plateau).
"""

import argparse
import functools
import random
import time


@functools.lru_cache(maxsize=20_000)
def price_quote(product_id):
    # A quote is a small document: about 1 KB per cached entry.
    return {"product": product_id, "currency": "EUR",
            "history": [random.random() for _ in range(40)], "note": "q" * 300}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--rate", type=float, default=3000.0, help="lookups per second")
    args = parser.parse_args()
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        for _ in range(int(args.rate / 20)):
            price_quote(random.randrange(1_000_000))  # keys from a huge space: always misses
        time.sleep(max(0.0, 0.05 - (time.monotonic() - started)))


if __name__ == "__main__":
    main()
