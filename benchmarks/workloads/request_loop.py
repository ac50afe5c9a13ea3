"""An allocation-heavy request loop: JSON decode, small dicts and lists, JSON encode.

Prints the loop's own wall time and CPU time in seconds on its last line, so that start-up is
not counted.
"""

import json
import sys
import time

REQUESTS = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000


def handle(raw: str) -> str:
    request = json.loads(raw)
    items = [{"id": i, "name": f"item-{i}", "tags": ["a", "b"], "price": i * 1.5}
             for i in range(request["count"])]
    totals = {"sum": sum(item["price"] for item in items), "n": len(items)}
    return json.dumps({"user": request["user"], "items": items[:3], "totals": totals})


def main() -> None:
    raw = json.dumps({"user": "alice", "count": 20, "filters": {"x": [1, 2, 3]}})
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(REQUESTS):
        handle(raw)
    print(f"{time.perf_counter() - started:.6f} {time.process_time() - cpu_started:.6f}")


if __name__ == "__main__":
    main()
