"""A leak: a thread per request, and every request waits on a reply that never comes. Each
stuck thread keeps its stack and its request buffer.

Ground truth: leak of threads, started in `serve()`, blocked in `handle()`.
"""

import argparse
import threading
import time

never = threading.Event()


def handle(request_id):
    buffer = bytearray(256 * 1024)  # the request body, held while waiting
    never.wait()  # the reply never comes
    return buffer


def serve(request_id):
    worker = threading.Thread(target=handle, args=(request_id,), name=f"request-{request_id}",
                              daemon=True)
    worker.start()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--rate", type=float, default=8.0, help="requests per second")
    args = parser.parse_args()
    threading.stack_size(512 * 1024)
    deadline = time.monotonic() + args.seconds
    request_id = 0
    while time.monotonic() < deadline:
        serve(request_id)
        request_id += 1
        time.sleep(1.0 / args.rate)


if __name__ == "__main__":
    main()
