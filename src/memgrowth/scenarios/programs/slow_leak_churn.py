"""A slow leak hidden in a big, busy heap: 150 MB of session state churns constantly (entries
replaced at random), while a listener registry gains about 200 KB/s of subscriptions that are
never removed.

Ground truth: leak (about 200 KB/s), held by `EventBus._subscribers`.
"""

import argparse
import random
import time


class EventBus:
    def __init__(self):
        self._subscribers = []

    def subscribe(self, callback, context):
        self._subscribers.append((callback, context))


bus = EventBus()


def make_state(i):
    return {"id": i, "cart": [random.random() for _ in range(10)], "blob": "s" * 200}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--state", type=int, default=180_000, help="steady entries (~150 MB)")
    parser.add_argument("--leak", type=float, default=200e3, help="bytes leaked per second")
    args = parser.parse_args()
    state = {i: make_state(i) for i in range(args.state)}
    started = time.monotonic()
    deadline = started + args.seconds
    leaked = 0
    while time.monotonic() < deadline:
        tick = time.monotonic()
        for _ in range(2000):  # churn: replace random entries
            key = random.randrange(args.state)
            state[key] = make_state(key)
        due = int(args.leak * (time.monotonic() - started) / 1000)  # a subscription: ~1 KB
        while leaked < due:
            bus.subscribe(print, {"context": "x" * 900})
            leaked += 1
        time.sleep(max(0.0, 0.05 - (time.monotonic() - tick)))


if __name__ == "__main__":
    main()
