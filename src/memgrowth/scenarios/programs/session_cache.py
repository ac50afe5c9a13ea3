"""The classic leak: a web handler caches every UserSession in a module-level dict and never
evicts it. Each request also does ordinary short-lived work (JSON in and out), so the heap
churns while the cache grows. Left running, it goes from about 10 MB to 1 GB.

Ground truth: leak, held by the global `_sessions`, allocated in `login()`.
"""

import argparse
import json
import random
import time
import uuid

_sessions = {}


class UserSession:
    __slots__ = ("user_id", "token", "created", "history", "profile")

    def __init__(self, user_id):
        self.user_id = user_id
        self.token = uuid.uuid4().hex
        self.created = time.time()
        self.history = [random.random() for _ in range(20)]
        self.profile = {"name": f"user{user_id}", "theme": "dark", "bio": "x" * 200}


def login(user_id):
    session = UserSession(user_id)
    _sessions[session.token] = session  # never evicted: the leak
    return session.token


def handle_request(request_id):
    body = json.dumps({"id": request_id, "items": list(range(50)), "note": "y" * 100})
    parsed = json.loads(body)
    parsed["total"] = sum(parsed["items"])
    return login(request_id) if request_id % 2 == 0 else json.dumps(parsed)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--rate", type=float, default=2000.0, help="requests per second")
    args = parser.parse_args()
    deadline = time.monotonic() + args.seconds
    request_id = 0
    while time.monotonic() < deadline:
        started = time.monotonic()
        for _ in range(int(args.rate / 20)):
            handle_request(request_id)
            request_id += 1
        time.sleep(max(0.0, 0.05 - (time.monotonic() - started)))


if __name__ == "__main__":
    main()
