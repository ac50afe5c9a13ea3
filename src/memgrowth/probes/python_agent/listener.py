"""The recorder's side of the agent channel: a private socket and the messages on it.

The agent's datagrams come from the target, so they are untrusted: only known message types
and numeric fields are accepted, and nothing is ever evaluated.
"""

from __future__ import annotations

import importlib.util
import json
import os
import py_compile
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
    # Attribution reports as rows of the `attribution` table: (kind, key, count, bytes, detail).
    attribution: list[tuple[str, str, float | None, float | None, dict[str, Any]]] = field(
        default_factory=list)


class AgentListener:
    """Owns the private folder (0700) and the socket (0600) the agents report to."""

    def __init__(self, interval: float | None = None) -> None:
        _compile_agent()
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


def _compile_agent() -> None:
    """Byte-compile the agent's modules for this Python, where the folder is writable.

    Every Python process of the tree imports the agent at start-up; from source that is
    about 15 ms more per process (PYTHONDONTWRITEBYTECODE keeps Python from caching it
    itself). Targets on another Python version compile their own, or read the source."""
    for name in os.listdir(INJECT_DIR):
        if name.endswith(".py"):
            path = os.path.join(INJECT_DIR, name)
            try:
                cached = importlib.util.cache_from_source(path)
                if not os.path.exists(cached) or \
                        os.path.getmtime(cached) < os.path.getmtime(path):
                    py_compile.compile(path, cfile=cached, doraise=True)
            except (OSError, py_compile.PyCompileError, ValueError):
                pass  # a read-only install: the agent still loads from source


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value == value and abs(value) < 1e18:
        return value
    return None


def _text(value: Any, limit: int = 500) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _items(value: Any, limit: int = 64) -> list:
    return value[:limit] if isinstance(value, list) else []


def _site(value: Any) -> list | None:
    """[file, line, function] (function optional): a place in the target's code."""
    if not isinstance(value, list) or len(value) not in (2, 3):
        return None
    filename, line = _text(value[0]), _number(value[1])
    if filename is None or not isinstance(line, int):
        return None
    return [filename, line, _text(value[2], 200) if len(value) == 3 else None]


def _stack(value: Any) -> list[list]:
    return [site for site in (_site(frame) for frame in _items(value, 32)) if site]


def _named_counts(value: Any) -> list[tuple[str, float, float | None]]:
    """[[type name, count, bytes?], …] with the malformed entries dropped."""
    out = []
    for entry in _items(value, 50):
        if isinstance(entry, list) and len(entry) in (2, 3) and isinstance(entry[0], str):
            count = _number(entry[1])
            size = _number(entry[2]) if len(entry) == 3 else None
            if count is not None:
                out.append((entry[0][:200], count, size))
    return out


def _containers(raw: dict) -> list:
    rows = []
    for item in _items(raw.get("items")):
        if not isinstance(item, list) or len(item) != 6:
            continue
        path, kind, length = _text(item[0], 300), _text(item[1], 20), _number(item[2])
        if path is None or length is None:
            continue
        rows.append(("container", path, length, _number(item[3]),
                     {"container": kind, "item_type": _text(item[4], 200),
                      "maxsize": _number(item[5])}))
    return rows


def _sites(raw: dict) -> list:
    window = {"window_s": _number(raw.get("window_s")),
              "window_bytes": _number(raw.get("bytes")),
              "window_blocks": _number(raw.get("blocks")),
              "heap_delta_blocks": _number(raw.get("heap_delta"))}
    rows = []
    for item in _items(raw.get("sites"), 20):
        if not isinstance(item, list) or len(item) != 5:
            continue
        where, size, blocks = _site(item[:2]), _number(item[2]), _number(item[3])
        if where is None or size is None:
            continue
        rows.append(("site", f"{where[0]}:{where[1]}", blocks, size,
                     {"file": where[0], "line": where[1], "stack": _stack(item[4]), **window}))
    for item in _items(raw.get("joins"), 10):
        if not isinstance(item, list) or len(item) != 4:
            continue
        path, where = _text(item[0], 300), _site(item[1:3])
        if path is not None and where is not None:
            rows.append(("join", path, None, None,
                         {"file": where[0], "line": where[1], "stack": _stack(item[3])}))
    return rows


# Group reports: [label, count, site, site, site]; the first sites make up the group's key.
_GROUPS = {
    "threads": ("name", ("started", "blocked", "innermost"), 2),
    "tasks": ("coroutine", ("defined", "awaiting", "created"), 3),
}


def _groups(raw: dict) -> list:
    rows = []
    for kind, (label, site_names, key_sites) in _GROUPS.items():
        for item in _items(raw.get(kind), 20):
            if not isinstance(item, list) or len(item) != 5:
                continue
            name, count = _text(item[0], 200), _number(item[1])
            if name is None or count is None:
                continue
            sites = {field: _site(value) for field, value in zip(site_names, item[2:], strict=True)}
            key = "|".join([name, *(str(sites[f]) for f in site_names[:key_sites])])
            rows.append((kind, key, count, None, {label: name, **sites}))
    return rows


def _cycles(raw: dict) -> list:
    young = _number(raw.get("gen0"))
    rows = []
    for item in _items(raw.get("types"), 20):
        if isinstance(item, list) and len(item) == 3 and isinstance(item[0], str):
            count, in_cycles = _number(item[1]), _number(item[2])
            if count is not None:
                rows.append(("cycles", item[0][:200], count, None,
                             {"in_cycles": in_cycles, "generation0": young}))
    return rows


def _census(raw: dict) -> list:
    objects = _number(raw.get("objects"))
    return [("census", name, count, size, {"objects": objects})
            for name, count, size in _named_counts(raw.get("types"))]


_ATTRIBUTION = {"containers": _containers, "sites": _sites, "groups": _groups,
                "cycles": _cycles, "census": _census}


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
        message.fields = {
            "histograms": _number(raw.get("histograms")) or 0,
            "counts": [(name, int(count), size) for name, count, size in
                       _named_counts(raw.get("counts"))],
        }
    elif message.type in _ATTRIBUTION:
        message.attribution = _ATTRIBUTION[message.type](raw)
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
