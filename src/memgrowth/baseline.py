"""The baseline every memory investigation starts with: runtime figures plus where the RSS is.

`baseline()` measures the calling Python process; `snapshot(pid)` measures another process,
getting Python figures from its memgrowth agent when it runs one.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from dataclasses import dataclass, field

import psutil

from memgrowth.errors import UserError
from memgrowth.probes import cgroup, os_process, smaps
from memgrowth.probes.python_agent import ENV_DIR
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
    notes: list[str] = field(default_factory=list)


def _python_figures_here() -> PythonFigures:
    stats = gc.get_stats()
    figures = PythonFigures(
        version=sys.version.split()[0],
        allocated_blocks=sys.getallocatedblocks(),
        objects=len(gc.get_objects()),
        gc_enabled=gc.isenabled(),
        gc_thresholds=gc.get_threshold(),
        gc_counts=gc.get_count(),
        gc_collections=tuple(s["collections"] for s in stats),  # type: ignore[arg-type]
        gc_collected=sum(s["collected"] for s in stats),
        gc_uncollectable=sum(s["uncollectable"] for s in stats),
        threads=threading.active_count(),
    )
    try:
        import ctypes

        class MallInfo2(ctypes.Structure):
            _fields_ = [(n, ctypes.c_size_t) for n in (
                "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                "uordblks", "fordblks", "keepcost")]

        function = ctypes.CDLL(None).mallinfo2
        function.restype = MallInfo2
        info = function()
        figures.malloc_in_use = info.uordblks + info.hblkhd
        figures.malloc_free = info.fordblks
    except (OSError, AttributeError):
        pass
    return figures


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
    f = message.fields

    def int_of(name: str) -> int:
        return int(f.get(name) or 0)

    return PythonFigures(
        version=str(f.get("version") or "?"),
        allocated_blocks=int_of("allocated_blocks"),
        objects=int_of("gc_objects"),
        gc_enabled=bool(f.get("gc_enabled")),
        gc_thresholds=(int_of("gc_threshold0"), int_of("gc_threshold1"), int_of("gc_threshold2")),
        gc_counts=(int_of("gc_count0"), int_of("gc_count1"), int_of("gc_count2")),
        gc_collections=(int_of("gc_collections0"), int_of("gc_collections1"),
                        int_of("gc_collections2")),
        gc_collected=int_of("gc_collected"),
        gc_uncollectable=int_of("gc_uncollectable"),
        threads=int_of("threads"),
        malloc_in_use=f.get("malloc_in_use"),
        malloc_free=f.get("malloc_free"),
    ), None


def snapshot(pid: int) -> Baseline:
    """Measure a process by pid. Raises UserError for a missing or forbidden process."""
    if pid <= 0:
        raise UserError(f"not a process id: {pid}")
    composition = smaps.read_composition(pid)  # first, so RSS below is read right after it
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
        result.python = _python_figures_here()
    else:
        result.python, result.python_unavailable = _python_figures_from_agent(pid)
    return result


def baseline() -> Baseline:
    """The baseline of this very process: Python figures and the RSS composition."""
    return snapshot(os.getpid())
