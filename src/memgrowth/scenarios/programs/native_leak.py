"""A leak outside the Python heap: a binding calls C `malloc` for every frame it decodes and
forgets to `free` it. RSS grows while the Python heap stays flat.

Ground truth: leak of native memory (malloc), in `decode_frame()`.
"""

import argparse
import ctypes
import time

libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]


def decode_frame(size):
    buffer = libc.malloc(size)
    libc.memset(buffer, 1, size)  # touched: resident
    return size  # the pointer is dropped: never freed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3600.0)
    parser.add_argument("--rate", type=float, default=1.5e6, help="bytes leaked per second")
    args = parser.parse_args()
    deadline = time.monotonic() + args.seconds
    frame = 64 * 1024
    while time.monotonic() < deadline:
        for _ in range(max(1, int(args.rate / 20 / frame))):
            decode_frame(frame)
        scratch = [str(i) for i in range(2000)]  # ordinary Python churn beside it
        del scratch
        time.sleep(0.05)


if __name__ == "__main__":
    main()
