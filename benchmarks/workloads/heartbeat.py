"""How long can the target be held up? Builds a large heap (about 1 GB by default), then runs a
heartbeat: a loop that wakes every millisecond and notes how late it woke. The longest delay
is the longest pause anything (the agent included) caused while the heartbeat ran.

Prints, on its last line: the longest delay and the 99.9th percentile delay (seconds), and
the peak RSS (bytes).
"""

import resource
import sys
import time

HEAP_BYTES = int(float(sys.argv[1])) if len(sys.argv) > 1 else 1_000_000_000
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0


def main() -> None:
    # About 250 bytes per entry: a dict of three fields in a list.
    heap = [{"id": i, "name": "x" * 64, "score": i * 0.5} for i in range(HEAP_BYTES // 250)]
    delays = []
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        planned = time.perf_counter() + 0.001
        time.sleep(0.001)
        delays.append(time.perf_counter() - planned)
    delays.sort()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"{delays[-1]:.6f} {delays[int(len(delays) * 0.999)]:.6f} {peak} {len(heap)}")


if __name__ == "__main__":
    main()
