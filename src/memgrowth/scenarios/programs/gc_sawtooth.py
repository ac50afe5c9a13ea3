"""Not a leak: a parser builds documents whose nodes point back to their parents (reference
cycles). With lazy collector thresholds, garbage piles up until a collection frees it all:
a sawtooth with a flat floor.

Ground truth: no_leak (sawtooth).
"""

import argparse
import gc
import time


class Node:
    def __init__(self, parent, text):
        self.parent = parent
        self.children = []
        self.text = text
        if parent is not None:
            parent.children.append(self)


def parse_document(i):
    root = Node(None, f"doc-{i}")
    for _ in range(8):
        Node(root, "t" * 200)
    return root  # dropped by the caller: a cycle only the collector frees


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--rate", type=float, default=4000.0, help="documents per second")
    args = parser.parse_args()
    gc.set_threshold(150_000, 1_000_000, 1_000_000)  # lazy: collect rarely, free a lot
    deadline = time.monotonic() + args.seconds
    i = 0
    while time.monotonic() < deadline:
        started = time.monotonic()
        for _ in range(int(args.rate / 20)):
            parse_document(i)
            i += 1
        time.sleep(max(0.0, 0.05 - (time.monotonic() - started)))


if __name__ == "__main__":
    main()
