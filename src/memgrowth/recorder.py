"""The recorder owns time: it samples the probes, writes each sample at once, shows status.

One loop, one thread. Between ticks it waits on the agents' socket and on the target's exit
(a pidfd), so agent reports are written as they arrive and an exit is seen at once. It never
runs inside the target, and nothing it fails at is allowed to reach the target.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sqlite3
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psutil

from memgrowth.analysis.growth import assess
from memgrowth.probes import cgroup, go, os_process
from memgrowth.probes.gctrace_tap import GcTraceTap
from memgrowth.probes.python_agent import sources
from memgrowth.probes.python_agent.listener import AgentListener, AgentMessage
from memgrowth.recording import ProcessInfo, RecordingWriter
from memgrowth.report.status import LiveFigures, StatusLine
from memgrowth.targets import AttachedTarget, ExitStatus, LaunchedTarget

NEAR_LIMIT = 0.9  # a SIGKILL this close to the limit is taken for an OOM kill…
RECENT_S = 5.0  # …when the usage was there within these last seconds
VERDICT_EVERY_S = 5.0


def adaptive_interval(elapsed: float) -> float:
    """Dense at the start (baselines and warm-ups live there), never slower than 1 s."""
    return min(1.0, 0.05 + elapsed / 20.0)


@dataclass
class RecorderOptions:
    interval: float | None = None  # None: adaptive
    duration: float | None = None
    grace: float = 5.0  # between SIGTERM and SIGKILL when --duration ends a launched target
    limit: int | None = None
    endpoint: str | None = None  # a Go service's debug endpoint (else discovered)
    discover_go: bool = True


@dataclass
class _Member:
    info: ProcessInfo
    process: psutil.Process | None


@dataclass
class _Live:
    """What the status line and the end-of-run checks need, kept up to date."""

    rss: int | None = None
    processes: int = 0
    agent: dict[int, dict[str, Any]] = field(default_factory=dict)
    agent_seq: dict[int, int] = field(default_factory=dict)
    cgroup_location: cgroup.CgroupLocation | None = None
    first_oom_kills: int | None = None
    last_host: dict[str, Any] = field(default_factory=dict)
    recent_usage: deque[tuple[float, int]] = field(default_factory=deque)  # last RECENT_S
    tick_t: list[float] = field(default_factory=list)  # the tree's RSS per tick, for the
    tick_rss: list[float] = field(default_factory=list)  # live verdict
    verdict: str | None = None
    verdict_at: float = 0.0
    go: dict[str, Any] = field(default_factory=dict)  # the Go probe's latest sample


class Recorder:
    """Records one target into one recording until the target exits or recording stops."""

    def __init__(self, writer: RecordingWriter, target: LaunchedTarget | AttachedTarget,
                 options: RecorderOptions, listener: AgentListener | None = None,
                 status: StatusLine | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.writer = writer
        self.target = target
        self.options = options
        self.listener = listener
        self.status = status or StatusLine(enabled=False)
        self.clock = clock
        self.started = clock()
        self.members: dict[tuple[int, float], _Member] = {}
        self.live = _Live()
        self.stop_reason: str | None = None
        self.interrupts = 0
        self.kill_at: float | None = None
        self.exit: ExitStatus | None = None
        self.write_error: str | None = None
        self.go: go.GoPoller | None = None
        fd = getattr(target, "stderr_fd", None)
        self.gctrace = GcTraceTap(fd) if fd is not None else None

    # --- public ----------------------------------------------------------------------------

    def elapsed(self) -> float:
        return self.clock() - self.started

    def run(self) -> ExitStatus | None:
        """Record until the root exits (or stop is requested); returns its exit status.

        If the recording cannot be written (a full disk…), recording stops, `write_error`
        says why, and a launched target is still waited for: it never notices.
        """
        try:
            self._record()
        except sqlite3.Error as exc:
            self.write_error = f"{exc} (after {self.elapsed():.1f} s)"
            if isinstance(self.target, LaunchedTarget) and self.exit is None:
                self.exit = ExitStatus.from_returncode(self.target.popen.wait())
        return self.exit

    def _record(self) -> None:
        self.writer.event(0.0, "start", pid=self.target.pid, command=self.target.command,
                          attached=isinstance(self.target, AttachedTarget),
                          interval=self.options.interval or "adaptive")
        try:
            self._loop()
        finally:
            if self.go is not None:
                self.go.stop()
                self._drain_go()
            if self.gctrace is not None:
                self._drain_gctrace()  # what the target wrote last
                self.gctrace.close()

    def _loop(self) -> None:
        next_tick = self.clock()
        with self.status:
            while True:
                now = self.clock()
                if now >= next_tick:
                    self._tick()
                    next_tick = now + (self.options.interval
                                       or adaptive_interval(now - self.started))
                    self._start_go()  # after the first tick: the start belongs to the OS probe
                self.exit = self.target.poll()
                if self.exit is not None:
                    self._drain_agents()
                    self._finish_root()
                    if self.kill_at is not None:
                        self._stop_leftovers()
                    break
                if self.stop_reason and isinstance(self.target, AttachedTarget):
                    break
                self._enforce_duration()
                self._wait(next_tick)
        self._drain_agents()
        self.writer.event(self.elapsed(), "stop", pid=self.target.pid,
                          reason=self.stop_reason or "target exited")
        self.writer.set_meta(duration_s=self.elapsed())

    def interrupt(self, signum: int) -> None:
        """A signal reached memgrowth: pass it on to a launched target, or stop attaching."""
        self.interrupts += 1
        if isinstance(self.target, AttachedTarget):
            self.stop_reason = f"{signal.Signals(signum).name} (recording stopped)"
            return
        if self.interrupts >= 3:
            self.stop_reason = "interrupted three times: target stopped"
            self.target.signal(signal.SIGKILL)
            return
        if signum == signal.SIGINT and _terminal_sent_it_to_the_target_too():
            return
        self.target.signal(signum)

    @contextlib.contextmanager
    def signals_forwarded(self) -> Iterator[None]:
        """Route SIGINT/SIGTERM/SIGHUP to `interrupt` for the duration of the recording."""
        handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous = {s: signal.signal(s, lambda n, _f: self.interrupt(n)) for s in handled}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    # --- the loop's steps ------------------------------------------------------------------

    def _wait(self, next_tick: float) -> None:
        timeout = max(0.0, next_tick - self.clock())
        if self.kill_at is not None:
            timeout = min(timeout, max(0.0, self.kill_at - self.clock()))
        tap = self.gctrace.fd if self.gctrace is not None and not self.gctrace.closed else None
        waitables = [fd for fd in (self.listener and self.listener.fileno(),
                                   self.target.exit_fd, tap) if fd is not None]
        if not waitables:
            time.sleep(min(timeout, 0.1))
            return
        try:
            readable, _, _ = select.select(waitables, [], [], min(timeout, 1.0))
        except InterruptedError:
            return
        if self.listener is not None and self.listener.fileno() in readable:
            self._drain_agents()
        if tap is not None and tap in readable:
            self._drain_gctrace()

    def _enforce_duration(self) -> None:
        if self.options.duration is None:
            return
        now = self.clock()
        if self.kill_at is None and now - self.started >= self.options.duration:
            if isinstance(self.target, AttachedTarget):
                self.stop_reason = f"--duration {self.options.duration:g} s reached"
                return
            self.stop_reason = f"--duration {self.options.duration:g} s reached: target stopped"
            self.writer.event(self.elapsed(), "terminate", pid=self.target.pid, signal="SIGTERM")
            self.target.signal(signal.SIGTERM)
            self.kill_at = now + self.options.grace
        elif self.kill_at is not None and now >= self.kill_at:
            self.writer.event(self.elapsed(), "terminate", pid=self.target.pid, signal="SIGKILL")
            self.target.signal(signal.SIGKILL)
            self.kill_at = float("inf")

    def _stop_leftovers(self) -> None:
        """--duration stopped the root: its descendants still running get SIGTERM too."""
        for member in self.members.values():
            if member.process is not None and member.info.pid != self.target.pid:
                try:
                    member.process.terminate()
                except psutil.Error:
                    pass

    def _tick(self) -> None:
        t = self.elapsed()
        rows = []
        seen: set[tuple[int, float]] = set()
        for process in os_process.tree(self.target.process):
            row = os_process.sample(process, t)
            if row is None:
                continue
            key = self._member(process, t)
            if key is None:
                continue
            seen.add(key)
            rows.append(row)
        self._forget_gone(seen, t)
        location = self.live.cgroup_location
        if any(row["pid"] == self.target.pid for row in rows):
            # Only a living root tells its cgroup: a zombie's reads as the root cgroup.
            location = cgroup.locate(self.target.pid) or location
        self.live.cgroup_location = location
        host = os_process.sample_host(t, location)
        self._watch_oom(host, t)
        self.writer.write({"os_samples": rows, "host_samples": [host]})
        self._drain_go()
        self.live.rss = sum(r["rss"] for r in rows) if rows else self.live.rss
        if rows:
            self.live.tick_t.append(t)
            self.live.tick_rss.append(float(self.live.rss))
        self.live.processes = len(rows)
        usage = max(host.get("cgroup_usage") or 0, self.live.rss or 0)
        self.live.recent_usage.append((t, usage))
        while self.live.recent_usage[0][0] < t - RECENT_S:
            self.live.recent_usage.popleft()
        self._show()

    def _member(self, process: psutil.Process, t: float) -> tuple[int, float] | None:
        try:
            key = (process.pid, process.create_time())
        except psutil.Error:
            return None
        member = self.members.get(key)
        if member is None:
            described = os_process.describe(process)
            if described is None:
                return None
            info = ProcessInfo(described.pid, described.ppid, described.create_time,
                               described.cmdline, described.exe, first_t=t, last_t=t)
            self.members[key] = _Member(info, process)
            self.writer.upsert_process(info)
            if process.pid != self.target.pid:
                self.writer.event(t, "spawn", pid=process.pid, ppid=described.ppid,
                                  command=described.cmdline)
            return key
        member.info.last_t = t
        try:
            cmdline = process.cmdline()
        except psutil.Error:
            cmdline = member.info.cmdline
        if cmdline != member.info.cmdline and cmdline:
            member.info.cmdline = cmdline
            self.writer.event(t, "exec", pid=process.pid, command=cmdline)
            self.writer.upsert_process(member.info)
        return key

    def _forget_gone(self, seen: set[tuple[int, float]], t: float) -> None:
        for key, member in list(self.members.items()):
            if key in seen or member.process is None:
                continue
            if member.info.pid == self.target.pid:
                continue  # the root's end is recorded with its exit status
            member.process = None
            self.writer.upsert_process(member.info)
            self.writer.event(t, "exit", pid=member.info.pid, code=None)

    def _watch_oom(self, host: dict[str, Any], t: float) -> None:
        kills = host.get("cgroup_oom_kills")
        if kills is None:
            return
        moved = host.get("cgroup_path") != self.live.last_host.get("cgroup_path")
        if self.live.first_oom_kills is None or moved:
            # A target that moves into another cgroup starts from that cgroup's own count.
            self.live.first_oom_kills = kills
            self.live.last_host = host
            return
        previous = self.live.last_host.get("cgroup_oom_kills")
        if previous is not None and kills > previous:
            self.writer.event(t, "oom_kill", pid=None, source="cgroup counter",
                              cgroup=host.get("cgroup_path"), kills=kills - previous)
        self.live.last_host = host

    def _finish_root(self) -> None:
        t = self.elapsed()
        status = self.exit
        assert status is not None
        location = self.live.cgroup_location
        if location is not None:
            host = os_process.sample_host(t, location)
            self._watch_oom(host, t)
            self.writer.write({"host_samples": [host]})
        oom, why = self._oom_verdict(status)
        if oom:
            self.writer.event(t, "oom_kill", pid=self.target.pid, source=why)
        self.writer.event(t, "exit", pid=self.target.pid, code=status.code,
                          signal=status.signal_name, oom_killed=oom)
        for member in self.members.values():
            if member.info.pid == self.target.pid:
                member.info.last_t = t
                member.info.exit_code = status.code
                member.info.exit_signal = status.signal
                self.writer.upsert_process(member.info)
        self.writer.set_meta(exit_code=status.code, exit_signal=status.signal_name,
                             oom_killed=oom)

    def _oom_verdict(self, status: ExitStatus) -> tuple[bool, str | None]:
        if status.signal != signal.SIGKILL:
            return False, None
        first = self.live.first_oom_kills
        kills = self.live.last_host.get("cgroup_oom_kills")
        if first is not None and kills is not None and kills > first:
            return True, "cgroup oom_kill counter"
        limit = self.options.limit or self.live.last_host.get("cgroup_limit")
        usage = max((u for _, u in self.live.recent_usage), default=None)
        if limit and usage and usage >= NEAR_LIMIT * limit:
            return True, f"SIGKILL at {usage / limit:.0%} of the memory limit"
        return False, None

    # --- agents ----------------------------------------------------------------------------

    def _start_go(self) -> None:
        if self.go is None and (self.options.endpoint or self.options.discover_go):
            endpoint = go.GoEndpoint(self.options.endpoint) if self.options.endpoint else None
            self.go = go.GoPoller(self.target.pid, self.started, endpoint,
                                  interval=self.options.interval or 1.0, clock=self.clock)
            self.go.start()

    def _drain_go(self) -> None:
        """Write what the Go probe's thread gathered since the last tick."""
        if self.go is None:
            return
        tables: dict[str, list[dict[str, Any]]] = {}
        for table, row in self.go.drain():
            tables.setdefault(table, []).append(row)
        if tables:
            self.writer.write(tables)
            for row in tables.get("go_samples", []):
                self.live.go = row
                self._mark_go(row["pid"])

    def _drain_gctrace(self) -> None:
        """Record the GC trace lines the target wrote; its other lines went on to stderr."""
        if self.gctrace is None:
            return
        cycles = self.gctrace.read()
        if not cycles:
            return
        t = self.elapsed()
        self.writer.write({"gctrace": [
            {"t": t, "pid": self.target.pid, "gc": c.number, "at_s": c.at_s,
             "heap_start": c.heap_start, "heap_end": c.heap_end, "heap_live": c.heap_live,
             "goal": c.goal, "stacks": c.stacks, "globals": c.globals, "procs": c.procs,
             "pause_ms": c.pause_ms, "cpu_percent": c.cpu_percent, "forced": int(c.forced)}
            for c in cycles]})

    def _mark_go(self, pid: int) -> None:
        for member in self.members.values():
            if member.info.pid == pid and member.info.runtime != "go":
                member.info.runtime = "go"
                self.writer.upsert_process(member.info)

    def _drain_agents(self) -> None:
        if self.listener is None:
            return
        messages = self.listener.receive()
        if messages:
            self._record_agent_messages(messages)

    def _record_agent_messages(self, messages: list[AgentMessage]) -> None:
        samples, gc_events, events, types, attribution = [], [], [], [], []
        for message in messages:
            t = (message.mono - self.started) if message.mono else self.elapsed()
            lost = self._count_lost(message)
            if lost:
                events.append({"t": t, "pid": message.pid, "kind": "agent_messages_lost",
                               "detail": json.dumps({"lost": lost})})
            if message.type in ("sample", "bye"):
                samples.append({"t": t, "pid": message.pid, **message.fields})
                self.live.agent[message.pid] = message.fields
                if message.type == "bye":  # that process has ended: out of the live totals
                    del self.live.agent[message.pid]
            elif message.type == "gc":
                gc_events.extend(
                    {"t": e[0] - self.started, "pid": message.pid, "generation": e[1],
                     "duration_s": e[2], "collected": e[3], "uncollectable": e[4],
                     "heap_after": e[5]}
                    for e in message.gc_events
                )
                if message.fields.get("dropped"):
                    events.append({"t": t, "pid": message.pid, "kind": "gc_events_dropped",
                                   "detail": json.dumps({"dropped": message.fields["dropped"]})})
            elif message.type == "types":
                types.extend({"t": t, "pid": message.pid, "type_name": name, "promoted": count,
                              "promoted_bytes": size,
                              "histograms": message.fields["histograms"]}
                             for name, count, size in message.fields["counts"])
            elif message.attribution:
                attribution.extend(
                    {"t": t, "pid": message.pid, "kind": kind, "key": key, "count": count,
                     "bytes": size, "detail": json.dumps(sources.with_functions(detail))}
                    for kind, key, count, size, detail in message.attribution)
            elif message.type == "hello":
                self._mark_python(message, t)
                events.append({"t": t, "pid": message.pid, "kind": "agent",
                               "detail": json.dumps(message.fields)})
        self.writer.write({"agent_samples": samples, "gc_events": gc_events, "events": events,
                           "type_samples": types, "attribution": attribution})

    def _count_lost(self, message: AgentMessage) -> int:
        """Datagrams of this agent that never arrived, from gaps in its sequence numbers."""
        if message.seq is None:
            return 0
        previous = self.live.agent_seq.get(message.pid)
        self.live.agent_seq[message.pid] = message.seq
        if previous is None or message.seq <= previous:
            return 0  # first message, or a new agent after exec under the same pid
        return message.seq - previous - 1

    def _mark_python(self, message: AgentMessage, t: float) -> None:
        member = next((m for m in self.members.values()
                       if m.info.pid == message.pid and m.process is not None), None)
        if member is None:  # its agent spoke before a tick saw it: register it now
            try:
                key = self._member(psutil.Process(message.pid), t)
            except psutil.Error:
                key = None
            member = self.members.get(key) if key else None
        if member is None:  # already gone: keep what its agent told us
            info = ProcessInfo(message.pid, message.fields.get("ppid"), 0.0,
                               message.fields.get("argv") or [],
                               message.fields.get("executable"), first_t=t, last_t=t)
            member = self.members[(message.pid, 0.0)] = _Member(info, None)
            self.writer.event(t, "spawn", pid=message.pid, ppid=info.ppid, command=info.cmdline)
        member.info.runtime = "python"
        self.writer.upsert_process(member.info)

    def _live_verdict(self) -> str | None:
        """The verdict on the RSS so far, once decided; recomputed every few seconds."""
        now = self.elapsed()
        if now - self.live.verdict_at >= VERDICT_EVERY_S and len(self.live.tick_t) >= 8:
            self.live.verdict_at = now
            result = assess(np.array(self.live.tick_t), np.array(self.live.tick_rss))
            self.live.verdict = {"leak": "LEAK", "no_leak": "no leak so far"}.get(result.verdict)
        return self.live.verdict

    def _show(self) -> None:
        if not self.status.enabled:
            return
        agents = self.live.agent.values()
        blocks = [a["allocated_blocks"] for a in agents if a.get("allocated_blocks") is not None]
        collections = [
            sum(a.get(f"gc_collections{g}") or 0 for g in range(3)) for a in agents
        ]
        self.status.update(LiveFigures(
            elapsed=self.elapsed(), rss=self.live.rss, processes=self.live.processes,
            python_blocks=sum(blocks) if blocks else None,
            gc_collections=sum(collections) if collections else None,
            verdict=self._live_verdict(),
        ))


def _terminal_sent_it_to_the_target_too() -> bool:
    """Ctrl-C at a terminal reaches the whole foreground group, the target included."""
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (OSError, ValueError, AttributeError):
        return False
