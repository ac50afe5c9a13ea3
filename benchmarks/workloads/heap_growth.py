"""A loop that grows a Python heap to about 500 MB: records kept in a list, with the ordinary
short-lived work around each one.

Prints, on its last line: the loop's wall time, its CPU time (seconds) and the process's peak
RSS (bytes), so that start-up is not counted.
"""

import resource
import sys
import time

TARGET_BYTES = int(float(sys.argv[1])) if len(sys.argv) > 1 else 500_000_000
RECORD_BYTES = 730  # a dict, a list of floats and a string: resident bytes each, measured


def make_record(i: int) -> dict:
    return {"id": i, "name": f"record-{i}", "values": [i * 0.5] * 40, "note": "n" * 400}


def main() -> None:
    kept = []
    started, cpu_started = time.perf_counter(), time.process_time()
    for i in range(TARGET_BYTES // RECORD_BYTES):
        record = make_record(i)
        summary = {"id": record["id"], "total": sum(record["values"])}  # short-lived work
        del summary
        kept.append(record)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"{wall:.6f} {cpu:.6f} {peak}")


if __name__ == "__main__":
    main()
