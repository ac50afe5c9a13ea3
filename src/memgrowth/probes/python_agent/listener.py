"""The recorder's side of the agent channel: a private socket and the messages on it.

The agent's datagrams come from the target, so they are untrusted: only known message types
and numeric fields are accepted, and nothing is ever evaluated.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass, field
from typing import Any

from memgrowth.probes.python_agent import (
    BASELINE_REQUEST,
    ENV_DIR,
    ENV_INTERVAL,
    INJECT_DIR,
    RECORDER_SOCKET,
)
from memgrowth.recording import TABLES

_SAMPLE_FIELDS = tuple(c for c in TABLES["agent_samples"] if c not in ("t", "pid"))
MAX_MESSAGE = 1 << 20


@dataclass
class AgentMessage:
    """One decoded datagram: its type, sender pid, monotonic time and numeric fields."""

    type: str
    pid: int
    mono: float | None
    seq: int | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    gc_events: list[tuple[float, int, float, int, int, int | None]] = field(
        default_factory=list)


class AgentListener:
    """Owns the private folder (0700) and the socket (0600) the agents report to."""

    def __init__(self, interval: float | None = None) -> None:
        self.directory = tempfile.mkdtemp(prefix="memgrowth-")  # created 0700
        self.path = os.path.join(self.directory, RECORDER_SOCKET)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o600)
        self.sock.setblocking(False)
        self.interval = interval

    def environment(self, base: dict[str, str]) -> dict[str, str]:
        """The target's environment with the agent injected (PYTHONPATH first)."""
        env = dict(base)
        existing = env.get("PYTHONPATH")
        env["PYTHONPATH"] = INJECT_DIR + (os.pathsep + existing if existing else "")
        env[ENV_DIR] = self.directory
        if self.interval:
            env[ENV_INTERVAL] = str(self.interval)
        return env

    def fileno(self) -> int:
        return self.sock.fileno()

    def receive(self) -> list[AgentMessage]:
        """Every message waiting now, decoded; malformed ones are dropped."""
        messages = []
        while True:
            try:
                data = self.sock.recv(MAX_MESSAGE)
            except (BlockingIOError, InterruptedError):
                return messages
            except OSError:
                return messages
            message = decode(data)
            if message is not None:
                messages.append(message)

    def close(self) -> None:
        try:
            self.sock.close()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value == value and abs(value) < 1e18:
        return value
    return None


def decode(data: bytes) -> AgentMessage | None:
    """Decode one datagram; None if it is not a well-formed agent message."""
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        return None
    pid = _number(raw.get("pid"))
    if not isinstance(pid, int) or pid <= 0:
        return None
    mono = _number(raw.get("mono"))
    seq = _number(raw.get("seq"))
    message = AgentMessage(type=raw["type"], pid=pid, mono=float(mono) if mono else None,
                           seq=seq if isinstance(seq, int) else None)
    if message.type in ("sample", "bye", "baseline"):
        message.fields = {name: _number(raw.get(name)) for name in _SAMPLE_FIELDS}
        if message.type == "baseline":
            message.fields["census_s"] = _number(raw.get("census_s"))
            message.fields["gc_stats"] = _gc_stats(raw.get("gc_stats"))
            message.fields["version"] = str(raw.get("version", ""))[:40]
    elif message.type == "types":
        counts = raw.get("counts")
        message.fields = {
            "histograms": _number(raw.get("histograms")) or 0,
            "counts": [(str(c[0])[:200], int(c[1])) for c in counts[:50]
                       if isinstance(c, list) and len(c) == 2 and isinstance(_number(c[1]), int)]
            if isinstance(counts, list) else [],
        }
    elif message.type == "hello":
        argv = raw.get("argv")
        message.fields = {
            "argv": [str(a)[:4096] for a in argv[:64]] if isinstance(argv, list) else [],
            "executable": str(raw.get("executable", ""))[:4096],
            "version": str(raw.get("version", ""))[:40],
            "implementation": str(raw.get("implementation", ""))[:40],
            "ppid": _number(raw.get("ppid")),
            "forked_from": _number(raw.get("forked_from")),
        }
    elif message.type == "gc":
        events = raw.get("events")
        for event in events if isinstance(events, list) else []:
            if isinstance(event, list) and len(event) == 6:
                values = [_number(v) for v in event]
                if None not in values[:5]:
                    message.gc_events.append(
                        (float(values[0]), int(values[1]), float(values[2]), int(values[3]),
                         int(values[4]), None if values[5] is None else int(values[5]))
                    )
        message.fields = {"dropped": _number(raw.get("dropped")) or 0}
    else:
        return None
    return message


def _gc_stats(value: Any) -> list[dict[str, int]]:
    if not isinstance(value, list):
        return []
    return [
        {k: int(_number(g.get(k)) or 0) for k in ("collections", "collected", "uncollectable")}
        for g in value[:3] if isinstance(g, dict)
    ]


def request_baseline(agent_dir: str, pid: int, timeout: float = 3.0) -> AgentMessage | None:
    """Ask a running agent for its baseline figures; None when it does not answer."""
    target = os.path.join(agent_dir, f"agent-{pid}.sock")
    if not os.path.exists(target):
        return None
    reply_dir = tempfile.mkdtemp(prefix="memgrowth-snapshot-")
    reply_path = os.path.join(reply_dir, "reply.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind(reply_path)
        sock.settimeout(timeout)
        sock.sendto(BASELINE_REQUEST, target)
        while True:
            message = decode(sock.recv(MAX_MESSAGE))
            if message is not None and message.type == "baseline":
                return message
    except OSError:
        return None
    finally:
        sock.close()
        shutil.rmtree(reply_dir, ignore_errors=True)
