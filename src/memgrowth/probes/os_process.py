"""The OS probe: memory of a process tree from /proc, plus the host and its cgroup.

It applies to every target, whatever its language. psutil gives the tree, counters and
command lines; `smaps_rollup` gives USS, PSS and swap at a fraction of the cost of `smaps`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import psutil

from memgrowth.probes import cgroup

_ROLLUP_KEYS = ("Rss", "Pss", "Private_Clean", "Private_Dirty", "Swap")


@dataclass
class TreeMember:
    """A process of the recorded tree, as the OS describes it."""

    pid: int
    ppid: int | None
    create_time: float
    cmdline: list[str]
    exe: str | None
    process: psutil.Process


def read_smaps_rollup(pid: int, proc_root: str = "/proc") -> dict[str, int] | None:
    """Rss, Pss, Private_* and Swap of a process in bytes; None where unreadable."""
    try:
        with open(os.path.join(proc_root, str(pid), "smaps_rollup")) as handle:
            text = handle.read()
    except OSError:
        return None
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in _ROLLUP_KEYS:
            parts = rest.split()
            if parts and parts[0].isdigit():
                values[key] = int(parts[0]) * 1024
    return values or None


def read_status_memory(pid: int, proc_root: str = "/proc") -> dict[str, int]:
    """RssAnon, RssFile and RssShmem from /proc/PID/status, in bytes."""
    values: dict[str, int] = {}
    try:
        with open(os.path.join(proc_root, str(pid), "status")) as handle:
            for line in handle:
                key, _, rest = line.partition(":")
                if key in ("RssAnon", "RssFile", "RssShmem"):
                    values[key] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return values


def describe(process: psutil.Process) -> TreeMember | None:
    """Identity of a process (pid, parent, start time, command line); None if it is gone."""
    try:
        with process.oneshot():
            cmdline = process.cmdline()
            try:
                exe = process.exe() or None
            except (psutil.AccessDenied, psutil.ZombieProcess):
                exe = None
            return TreeMember(process.pid, process.ppid(), process.create_time(),
                              cmdline, exe, process)
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.AccessDenied:
        try:
            return TreeMember(process.pid, None, process.create_time(), [process.name()], None,
                              process)
        except psutil.Error:
            return None


def tree(root: psutil.Process) -> list[psutil.Process]:
    """The root and all its living descendants."""
    try:
        return [root, *root.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return []
    except psutil.AccessDenied:
        return [root]


def sample(process: psutil.Process, t: float) -> dict[str, Any] | None:
    """One os_samples row for a process; None once it has exited."""
    try:
        with process.oneshot():
            memory = process.memory_info()
            threads = process.num_threads()
            cpu = process.cpu_times()
            try:
                fds = process.num_fds()
            except psutil.AccessDenied:
                fds = None
        if memory.rss == 0 or process.status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
            return None  # exiting: its memory is gone and its cgroup already reads as "/"
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.AccessDenied:
        return None
    rollup = read_smaps_rollup(process.pid) or {}
    status = read_status_memory(process.pid)
    private = None
    if "Private_Clean" in rollup:
        private = rollup["Private_Clean"] + rollup.get("Private_Dirty", 0)
    return {
        "t": t, "pid": process.pid, "rss": memory.rss, "vms": memory.vms,
        "uss": private, "pss": rollup.get("Pss"), "swap": rollup.get("Swap"),
        "rss_anon": status.get("RssAnon"), "rss_file": status.get("RssFile"),
        "rss_shmem": status.get("RssShmem"), "threads": threads, "fds": fds,
        "cpu_s": cpu.user + cpu.system,
    }


def sample_host(t: float, location: cgroup.CgroupLocation | None) -> dict[str, Any]:
    """One host_samples row: system memory and the memory cgroup of the target."""
    virtual = psutil.virtual_memory()
    row: dict[str, Any] = {"t": t, "mem_total": virtual.total, "mem_available": virtual.available}
    if location is not None:
        memory = cgroup.read_memory(location)
        row.update(cgroup_version=memory.version, cgroup_path=memory.path,
                   cgroup_usage=memory.usage, cgroup_limit=memory.limit,
                   cgroup_working_set=memory.working_set, cgroup_oom_kills=memory.oom_kills)
    return row
