"""The Go probe: a Go service's own endpoints, polled from outside.

`/debug/vars` (expvar) gives `runtime.MemStats`; `/debug/pprof/goroutine?debug=1` the
goroutine count and where they wait; `/debug/pprof/heap` the heap profile (cheap in Go: the
runtime keeps it all the time). The endpoint is given (`--endpoint`) or discovered: a port the
target listens on, on loopback or all addresses, that answers `/debug/pprof/`.

Polling runs on its own thread so that a slow or hanging endpoint never delays the recorder's
ticks; every request has a timeout. The probe only measures: rows go to a queue the recorder
drains and writes.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import psutil

from memgrowth.errors import UserError

TIMEOUT_S = 2.0
PROFILE_EVERY_S = 10.0
DISCOVER_EVERY_S = 1.0
MAX_BODY = 64 << 20

# MemStats fields → go_samples columns (the recording's names).
MEMSTATS = {
    "Alloc": "alloc", "TotalAlloc": "total_alloc", "Sys": "sys", "Mallocs": "mallocs",
    "Frees": "frees", "HeapAlloc": "heap_alloc", "HeapSys": "heap_sys", "HeapIdle": "heap_idle",
    "HeapInuse": "heap_inuse", "HeapReleased": "heap_released", "HeapObjects": "heap_objects",
    "StackInuse": "stack_inuse", "StackSys": "stack_sys", "MSpanInuse": "mspan_inuse",
    "MSpanSys": "mspan_sys", "MCacheInuse": "mcache_inuse", "MCacheSys": "mcache_sys",
    "BuckHashSys": "buck_hash_sys", "GCSys": "gc_sys", "OtherSys": "other_sys",
    "NextGC": "next_gc", "LastGC": "last_gc_ns", "NumGC": "num_gc",
    "NumForcedGC": "num_forced_gc",
    "PauseTotalNs": "pause_total_ns", "GCCPUFraction": "gc_cpu_fraction",
}


class GoEndpointError(Exception):
    """A request to the endpoint failed; the message says how."""


class GoEndpoint:
    """One Go service's debug endpoints, at a base URL such as http://127.0.0.1:6060."""

    def __init__(self, url: str, timeout: float = TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def get(self, path: str) -> bytes:
        try:
            with urllib.request.urlopen(self.url + path, timeout=self.timeout) as response:
                body = response.read(MAX_BODY + 1)
        except urllib.error.HTTPError as exc:
            raise GoEndpointError(f"{self.url}{path}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GoEndpointError(f"{self.url}{path}: {reason}") from None
        if len(body) > MAX_BODY:
            raise GoEndpointError(f"{self.url}{path}: answer larger than 64 MiB")
        return body

    def memstats(self) -> dict[str, Any]:
        """MemStats from expvar, as go_samples columns (the last GC pause included)."""
        try:
            data = json.loads(self.get("/debug/vars"))
        except (ValueError, UnicodeDecodeError):
            raise GoEndpointError(f"{self.url}/debug/vars is not JSON") from None
        stats = data.get("memstats") if isinstance(data, dict) else None
        if not isinstance(stats, dict):
            raise GoEndpointError(f"{self.url}/debug/vars has no memstats (not a Go service "
                                  "importing expvar?)")
        row = {column: _number(stats.get(name)) for name, column in MEMSTATS.items()}
        pauses, count = stats.get("PauseNs"), _number(stats.get("NumGC"))
        if isinstance(pauses, list) and len(pauses) == 256 and count:
            row["last_pause_ns"] = _number(pauses[(int(count) + 255) % 256])
        return row

    def goroutines(self) -> tuple[int, str]:
        """The goroutine count and the debug=1 text (stacks grouped, with symbols)."""
        text = self.get("/debug/pprof/goroutine?debug=1").decode("utf-8", "replace")
        first = text.split("\n", 1)[0]
        if not first.startswith("goroutine profile: total "):
            raise GoEndpointError(f"{self.url}/debug/pprof/goroutine is not a goroutine profile")
        try:
            return int(first.rsplit(" ", 1)[1]), text
        except ValueError:
            raise GoEndpointError(f"{self.url}: malformed goroutine profile header") from None

    def heap_profile(self) -> bytes:
        return self.get("/debug/pprof/heap")


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value == value and abs(value) < 1e19:
        return value
    return None


def check_url(url: str) -> None:
    if not url.startswith(("http://", "https://")) or len(url) < 10:
        raise UserError(f"--endpoint must be an http:// URL, got {url!r}")


def check_endpoint(url: str) -> GoEndpoint:
    """The endpoint, once it answered like a Go service; else one clear error."""
    check_url(url)
    endpoint = GoEndpoint(url)
    try:
        endpoint.memstats()
    except GoEndpointError as exc:
        try:
            endpoint.goroutines()
        except GoEndpointError:
            raise UserError(f"{url} does not answer like a Go service ({exc})") from None
    return endpoint


def discover(pid: int, tried: set[int] | None = None) -> GoEndpoint | None:
    """A port the process (or a child) listens on that serves /debug/pprof/, if any. Ports in
    `tried` are not asked again (a service that is not Go gets one request per port)."""
    try:
        processes = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return None
    ports = []
    for process in processes:
        try:
            connections = process.net_connections(kind="tcp")
        except (psutil.Error, OSError):
            continue
        for connection in connections:
            if connection.status == psutil.CONN_LISTEN and connection.laddr and \
                    connection.laddr.ip in ("127.0.0.1", "0.0.0.0", "::", "::1"):
                ports.append(connection.laddr.port)
    for port in sorted(set(ports)):
        if tried is not None:
            if port in tried:
                continue
            tried.add(port)
        endpoint = GoEndpoint(f"http://127.0.0.1:{port}", timeout=0.5)
        try:
            if b"profile" in endpoint.get("/debug/pprof/"):
                endpoint.timeout = TIMEOUT_S
                return endpoint
        except GoEndpointError:
            continue
    return None


SETTING_NAMES = ("GOGC", "GOMEMLIMIT", "GOMAXPROCS")


def runtime_settings(pid: int) -> dict[str, str]:
    """GOGC, GOMEMLIMIT and GOMAXPROCS from the environment of the process or of the first
    child that sets one (only these names are read: an environment holds secrets)."""
    try:
        processes = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return {}
    for process in processes:
        try:
            env = process.environ()
        except (psutil.Error, OSError):
            continue
        found = {name: env[name][:64] for name in SETTING_NAMES if name in env}
        if found:
            return found
    return {}


class GoPoller:
    """Polls a Go endpoint on a thread; `drain()` hands the recorder what it gathered as
    (table, row) pairs, stamped with the recorder's clock."""

    def __init__(self, pid: int, started: float, endpoint: GoEndpoint | None = None,
                 interval: float = 1.0, profile_every: float = PROFILE_EVERY_S,
                 clock=time.monotonic) -> None:
        self.pid = pid
        self.started = started
        self.endpoint = endpoint
        self.interval = interval
        self.profile_every = profile_every
        self.clock = clock
        self.rows: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self.stopped = threading.Event()
        self.failing = False
        self.tried_ports: set[int] = set()
        self.settings_read = False
        self.thread = threading.Thread(target=self._run, name="memgrowth-go-probe", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=TIMEOUT_S * 3 + 1)

    def drain(self) -> list[tuple[str, dict[str, Any]]]:
        out = []
        while True:
            try:
                out.append(self.rows.get_nowait())
            except queue.Empty:
                return out

    def _t(self) -> float:
        return self.clock() - self.started

    def _run(self) -> None:
        next_profile = self.clock()
        while not self.stopped.is_set():
            if self.endpoint is None:
                self.endpoint = discover(self.pid, self.tried_ports)
                if self.endpoint is None:
                    self.stopped.wait(DISCOVER_EVERY_S)
                    continue
                self._event("go_endpoint", url=self.endpoint.url, discovered=True)
            if not self.settings_read:
                self.settings_read = True
                self._event("go_settings", **runtime_settings(self.pid))
            try:
                due = self.clock() >= next_profile
                self._poll(due)
                if due:  # dense while the service warms up, then once a minute
                    every = self.profile_every if self._t() < 120 else 6 * self.profile_every
                    next_profile = self.clock() + every
                if self.failing:
                    self.failing = False
                    self._event("go_endpoint", url=self.endpoint.url, recovered=True)
            except GoEndpointError as exc:
                if not self.failing:  # one event per outage, not one per tick
                    self.failing = True
                    self._event("go_endpoint_error", error=str(exc)[:300])
            self.stopped.wait(self.interval)

    def _poll(self, with_profiles: bool) -> None:
        endpoint = self.endpoint
        assert endpoint is not None
        t = self._t()
        # Wall-clock time of the poll, to compare with MemStats.LastGC (wall-clock too).
        row: dict[str, Any] = {"t": t, "pid": self.pid, "polled_ns": time.time_ns()}
        try:
            row.update(endpoint.memstats())
        except GoEndpointError:
            if not with_profiles:
                raise
        count, text = endpoint.goroutines()
        row["goroutines"] = count
        self.rows.put(("go_samples", row))
        if with_profiles:
            self.rows.put(("go_profiles", {"t": t, "pid": self.pid, "kind": "goroutine",
                                           "data": text.encode()}))
            self.rows.put(("go_profiles", {"t": self._t(), "pid": self.pid, "kind": "heap",
                                           "data": endpoint.heap_profile()}))

    def _event(self, kind: str, **detail: Any) -> None:
        self.rows.put(("events", {"t": self._t(), "pid": self.pid, "kind": kind,
                                  "detail": json.dumps(detail)}))
