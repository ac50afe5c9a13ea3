"""A leak: a service disables the cyclic garbage collector "for speed". Its request objects
hold a back-reference to their session, so every request leaves a reference cycle that
nothing frees any more.

Ground truth: leak, uncollected cycles of `Request` and `Session` while gc is disabled.
"""

import argparse
import gc
import time


class Session:
    def __init__(self, user):
        self.user = user
        self.requests = []


class Request:
    def __init__(self, session, path):
        self.session = session  # back-reference: a cycle
        self.path = path
        self.headers = {"accept": "*/*", "cookie": "k" * 300}
        session.requests.append(self)


def handle(i):
    session = Session(f"user-{i}")
    Request(session, f"/items/{i}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--rate", type=float, default=2000.0, help="requests per second")
    args = parser.parse_args()
    gc.disable()
    deadline = time.monotonic() + args.seconds
    i = 0
    while time.monotonic() < deadline:
        started = time.monotonic()
        for _ in range(int(args.rate / 20)):
            handle(i)
            i += 1
        time.sleep(max(0.0, 0.05 - (time.monotonic() - started)))


if __name__ == "__main__":
    main()
