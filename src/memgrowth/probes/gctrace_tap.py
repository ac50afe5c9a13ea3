"""`run --gctrace`: the target's stderr through memgrowth, its GC trace lines taken out.

The target runs with `GODEBUG=gctrace=1` and its stderr on a pipe. Every complete line is
either a GC trace line (kept for the recording) or the program's own, written on to
memgrowth's stderr at once, unchanged. The pipe is read without blocking whenever the
recorder's loop sees it readable, so the target never waits on it for long.
"""

from __future__ import annotations

import os
import sys
from typing import BinaryIO

from memgrowth.formats.gctrace import GcCycle, parse_line

MAX_LINE = 64 << 10  # a line longer than this is passed on in pieces


class GcTraceTap:
    def __init__(self, fd: int, passthrough: BinaryIO | None = None) -> None:
        self.fd = fd
        os.set_blocking(fd, False)
        self.passthrough = passthrough if passthrough is not None else sys.stderr.buffer
        self.pending = b""
        self.closed = False

    def read(self) -> list[GcCycle]:
        """The GC cycles in what the target wrote since the last read."""
        chunks = []
        while not self.closed:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                break
            except OSError:
                chunk = b""
            if not chunk:  # the target closed its stderr (it exited)
                self.closed = True
                break
            chunks.append(chunk)
        data = self.pending + b"".join(chunks)
        lines = data.split(b"\n")
        self.pending = lines.pop()
        if (self.closed and self.pending) or len(self.pending) > MAX_LINE:
            lines.append(self.pending)  # the last line, or a runaway one, in pieces
            self.pending = b""
        cycles = []
        passed = []
        for line in lines:
            parsed = parse_line(line.decode("utf-8", "replace"))
            if isinstance(parsed, GcCycle):
                cycles.append(parsed)
            else:
                passed.append(line + b"\n")
        if passed:
            try:
                self.passthrough.write(b"".join(passed))
                self.passthrough.flush()
            except (OSError, ValueError):
                pass  # our own stderr is gone: the target must not notice
        return cycles

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass
        self.closed = True
