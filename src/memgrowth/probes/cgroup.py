"""cgroup memory of a process, for cgroup v1 and v2: usage, limit, working set, OOM kills.

Both roots are parameters so tests can point them at real file layouts copied as fixtures.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

UNLIMITED_FLOOR = 1 << 62  # v1 writes 9223372036854771712 for "no limit"


@dataclass(frozen=True)
class CgroupLocation:
    version: int  # 1 or 2
    path: str  # the cgroup's path inside its hierarchy, e.g. /process_api/abc
    directory: str  # where its files are on this machine
    mount: str  # the hierarchy's mount point (ancestors are searched up to it)


@dataclass
class CgroupMemory:
    """One reading of a cgroup's memory files, in bytes."""

    version: int
    path: str
    usage: int | None
    limit: int | None  # effective limit: the smallest over the cgroup and its ancestors
    working_set: int | None  # usage minus inactive file pages, as kubelet computes it
    oom_kills: int | None
    peak: int | None


def locate(pid: int | str, proc_root: str = "/proc",
           cgroup_root: str = "/sys/fs/cgroup") -> CgroupLocation | None:
    """Find the memory cgroup of a process: the v1 memory controller, else the v2 hierarchy."""
    try:
        with open(os.path.join(proc_root, str(pid), "cgroup")) as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    v1_path = v2_path = None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and controllers == "":
            v2_path = path
        elif "memory" in controllers.split(","):
            v1_path = path
    if v1_path is not None:
        mount = os.path.join(cgroup_root, "memory")
        if os.path.exists(os.path.join(mount, "memory.usage_in_bytes")):
            return CgroupLocation(1, v1_path, _inside(mount, v1_path), mount)
    if v2_path is not None:
        for mount in (cgroup_root, os.path.join(cgroup_root, "unified")):
            directory = _inside(mount, v2_path)
            if os.path.exists(os.path.join(directory, "memory.current")) or (
                os.path.exists(os.path.join(mount, "cgroup.controllers"))
                and "memory" in _read_text(os.path.join(mount, "cgroup.controllers")).split()
            ):
                return CgroupLocation(2, v2_path, directory, mount)
    return None


def _inside(mount: str, path: str) -> str:
    # In a container the cgroup namespace may show a path that is not under its own mount:
    # the mount itself is then the process's cgroup.
    directory = os.path.join(mount, path.lstrip("/"))
    return directory if os.path.isdir(directory) else mount


def read_memory(location: CgroupLocation) -> CgroupMemory:
    """Read usage, effective limit, working set and OOM kills of a located cgroup."""
    directory = location.directory
    if location.version == 1:
        stat = _read_keyed(os.path.join(directory, "memory.stat"))
        usage = _read_int(os.path.join(directory, "memory.usage_in_bytes"))
        limit = _limit(stat.get("hierarchical_memory_limit"))
        if limit is None:
            limit = _smallest_limit(location, "memory.limit_in_bytes")
        inactive = stat.get("total_inactive_file", stat.get("inactive_file"))
        oom = _read_keyed(os.path.join(directory, "memory.oom_control")).get("oom_kill")
        peak = _read_int(os.path.join(directory, "memory.max_usage_in_bytes"))
    else:
        stat = _read_keyed(os.path.join(directory, "memory.stat"))
        usage = _read_int(os.path.join(directory, "memory.current"))
        limit = _smallest_limit(location, "memory.max")
        inactive = stat.get("inactive_file")
        oom = _read_keyed(os.path.join(directory, "memory.events")).get("oom_kill")
        peak = _read_int(os.path.join(directory, "memory.peak"))
    working_set = None
    if usage is not None:
        working_set = max(0, usage - inactive) if inactive is not None else usage
    return CgroupMemory(location.version, location.path, usage, limit, working_set, oom, peak)


def _smallest_limit(location: CgroupLocation, filename: str) -> int | None:
    """The effective limit: a parent's limit binds its children too."""
    smallest = None
    directory = os.path.abspath(location.directory)
    mount = os.path.abspath(location.mount)
    while True:
        limit = _limit(_read_text(os.path.join(directory, filename)).strip() or None)
        if limit is not None and (smallest is None or limit < smallest):
            smallest = limit
        if directory == mount or not directory.startswith(mount):
            return smallest
        directory = os.path.dirname(directory)


def _limit(value: str | int | None) -> int | None:
    if value is None or value == "max":
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return None if number >= UNLIMITED_FLOOR else number


def _read_text(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""


def _read_int(path: str) -> int | None:
    text = _read_text(path).strip()
    try:
        return int(text)
    except ValueError:
        return None


def _read_keyed(path: str) -> dict[str, int]:
    """Parse `key value` lines (memory.stat, memory.events, memory.oom_control)."""
    values: dict[str, int] = {}
    for line in _read_text(path).splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                values[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return values
