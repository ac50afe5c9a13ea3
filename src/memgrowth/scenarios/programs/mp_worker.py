"""A leak inside a multiprocessing worker: the parent only dispatches jobs; the worker keeps
every job's result in a module-level memo that is never cleared. The parent stays flat.

Ground truth: leak in the child process (the worker), held by its global `_results`.
"""

import argparse
import multiprocessing as mp
import signal
import sys
import time

_results = {}


def work(jobs):
    while True:
        job = jobs.get()
        if job is None:
            return
        _results[job] = [job] * 64 + ["r" * 400]  # never cleared


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--rate", type=float, default=1500.0, help="jobs per second")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the worker too
    mp.set_start_method("spawn")
    jobs = mp.Queue()
    worker = mp.Process(target=work, args=(jobs,), name="worker", daemon=True)
    worker.start()
    deadline = time.monotonic() + args.seconds
    job = 0
    try:
        while time.monotonic() < deadline:
            for _ in range(int(args.rate / 20)):
                jobs.put(job)
                job += 1
            time.sleep(0.05)
    finally:
        jobs.put(None)
        worker.join(timeout=5)


if __name__ == "__main__":
    main()
