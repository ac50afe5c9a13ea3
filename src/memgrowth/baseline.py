"""The baseline every memory investigation starts with: runtime figures plus where the RSS is.

`baseline()` measures the calling Python process; `snapshot(pid)` measures another process,
getting Python figures from its memgrowth agent when it runs one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psutil

from memgrowth.errors import UserError
from memgrowth.probes import cgroup, go, os_process, smaps
from memgrowth.probes.python_agent import ENV_DIR
from memgrowth.probes.python_agent.inject import _memgrowth_agent
from memgrowth.probes.python_agent.listener import request_baseline


@dataclass
class PythonFigures:
    """The Python runtime's own view, like Go's runtime.MemStats table."""

    version: str
    allocated_blocks: int  # sys.getallocatedblocks(): pymalloc and object blocks in use
    objects: int  # GC-tracked objects
    gc_enabled: bool
    gc_thresholds: tuple[int, int, int]
    gc_counts: tuple[int, int, int]  # allocations/collections pending per generation
    gc_collections: tuple[int, int, int]
    gc_collected: int
    gc_uncollectable: int
    threads: int
    malloc_in_use: int | None = None  # glibc mallinfo2: bytes handed out by malloc
    malloc_free: int | None = None  # bytes malloc holds free (retained, not returned)


@dataclass
class Baseline:
    """One process's memory at one moment: OS figures, cgroup, composition, runtime figures."""

    pid: int
    command: list[str]
    rss: int
    vms: int
    uss: int | None
    pss: int | None
    swap: int | None
    threads: int
    composition: smaps.RssComposition
    cgroup: cgroup.CgroupMemory | None = None
    python: PythonFigures | None = None
    python_unavailable: str | None = None  # why there are no Python figures
    go: dict[str, float | int | None] | None = None  # runtime.MemStats of a Go service
    go_endpoint: str | None = None


def _figures(fields: dict) -> PythonFigures:
    """PythonFigures from the agent's baseline fields (the same names as in the recording)."""

    def int_of(name: str) -> int:
        return int(fields.get(name) or 0)

    return PythonFigures(
        version=str(fields.get("version") or "?"),
        allocated_blocks=int_of("allocated_blocks"),
        objects=int_of("gc_objects"),
        gc_enabled=bool(fields.get("gc_enabled")),
        gc_thresholds=(int_of("gc_threshold0"), int_of("gc_threshold1"), int_of("gc_threshold2")),
        gc_counts=(int_of("gc_count0"), int_of("gc_count1"), int_of("gc_count2")),
        gc_collections=(int_of("gc_collections0"), int_of("gc_collections1"),
                        int_of("gc_collections2")),
        gc_collected=int_of("gc_collected"),
        gc_uncollectable=int_of("gc_uncollectable"),
        threads=int_of("threads"),
        malloc_in_use=fields.get("malloc_in_use"),
        malloc_free=fields.get("malloc_free"),
    )


def _python_figures_from_agent(pid: int) -> tuple[PythonFigures | None, str | None]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            environ = handle.read().split(b"\0")
    except OSError:
        return None, "its environment cannot be read"
    prefix = ENV_DIR.encode() + b"="
    agent_dir = next((e[len(prefix):].decode(errors="replace") for e in environ
                      if e.startswith(prefix)), None)
    if agent_dir is None:
        return None, ("it runs no memgrowth agent: start it under `memgrowth run` "
                      "or call memgrowth.baseline() inside it")
    message = request_baseline(agent_dir, pid)
    if message is None:
        return None, "its memgrowth agent did not answer (recording over, or not a Python process)"
    return _figures(message.fields), None


def snapshot(pid: int, endpoint: str | None = None) -> Baseline:
    """Measure a process by pid. Raises UserError for a missing or forbidden process."""
    if pid <= 0:
        raise UserError(f"not a process id: {pid}")
    # Read the map first and parse it after RSS: parsing allocates, and in this very process
    # that would grow RSS between the two readings.
    smaps_text = smaps.read_smaps_text(pid)
    try:
        process = psutil.Process(pid)
        with process.oneshot():
            memory = process.memory_info()
            threads = process.num_threads()
            try:
                command = process.cmdline()
            except psutil.AccessDenied:
                command = [process.name()]
    except psutil.NoSuchProcess:
        raise UserError(f"no process with pid {pid}") from None
    except psutil.AccessDenied:
        raise UserError(f"no permission to inspect pid {pid}: run as its user or as root") from None
    composition = smaps.parse_smaps(smaps_text, pid)
    rollup = os_process.read_smaps_rollup(pid) or {}
    location = cgroup.locate(pid)
    result = Baseline(
        pid=pid, command=command, rss=memory.rss, vms=memory.vms,
        uss=(rollup["Private_Clean"] + rollup.get("Private_Dirty", 0))
        if "Private_Clean" in rollup else None,
        pss=rollup.get("Pss"), swap=rollup.get("Swap"), threads=threads,
        composition=composition,
        cgroup=cgroup.read_memory(location) if location else None,
    )
    if pid == os.getpid():
        # The agent's own measuring code, run here without its thread or socket.
        result.python = _figures(_memgrowth_agent._Agent("", None).baseline())
    else:
        result.python, result.python_unavailable = _python_figures_from_agent(pid)
    if result.python is None:
        result.go_endpoint, result.go = _go_figures(pid, endpoint)
    return result


def _go_figures(pid: int, endpoint: str | None) -> tuple[str | None, dict | None]:
    """runtime.MemStats and the goroutine count of a Go service, from its own endpoint."""
    service = go.check_endpoint(endpoint) if endpoint else go.discover(pid)
    if service is None:
        return None, None
    figures: dict = {}
    try:
        figures.update(service.memstats())
    except go.GoEndpointError:
        pass
    try:
        figures["goroutines"] = service.goroutines()[0]
    except go.GoEndpointError:
        pass
    return (service.url, figures) if figures else (None, None)


def baseline() -> Baseline:
    """The baseline of this very process: Python figures and the RSS composition."""
    return snapshot(os.getpid())
