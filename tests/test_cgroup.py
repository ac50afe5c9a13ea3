"""cgroup v1 and v2 memory, from real file layouts (v1 as on this project's hosts, v2 as the
kernel's cgroup-v2 documentation lays it out), and from this machine when it has a cgroup."""

import os

import pytest

from memgrowth.probes import cgroup

from conftest import FIXTURES


def _locate(layout, pid):
    base = FIXTURES / "cgroup" / layout
    return cgroup.locate(pid, proc_root=str(base / "proc"), cgroup_root=str(base / "sys/fs/cgroup"))


def test_v1_hierarchical_limit_and_oom_kills():
    location = _locate("v1", 4242)
    assert (location.version, location.path) == (1, "/process_api/job")
    memory = cgroup.read_memory(location)
    assert memory.usage == 750_000_000
    assert memory.limit == 1 << 30, "the parent's limit binds the child"
    assert memory.working_set == 750_000_000 - 50_000_000
    assert memory.oom_kills == 2
    assert memory.peak == 900_000_000


def test_v1_unlimited_is_none():
    memory = cgroup.read_memory(_locate("v1-unlimited", 77))
    assert memory.limit is None
    assert memory.oom_kills == 0
    assert memory.usage and memory.working_set <= memory.usage


def test_v2_limit_comes_from_the_pod():
    location = _locate("v2", 4242)
    assert (location.version, location.path) == (2, "/kubepods.slice/pod-a/ctr")
    memory = cgroup.read_memory(location)
    assert memory.usage == 419_430_400
    assert memory.limit == 536_870_912
    assert memory.working_set == 419_430_400 - 40_000_000
    assert memory.oom_kills == 1
    assert memory.peak == 480_000_000


def test_v2_inside_a_container_namespace():
    location = _locate("v2-container", 1)
    memory = cgroup.read_memory(location)
    assert (memory.version, memory.limit, memory.usage) == (2, 268_435_456, 104_857_600)
    assert memory.working_set == 104_857_600 - 4_857_600


def test_missing_process_has_no_cgroup():
    assert _locate("v2", 999) is None


def test_this_machine():
    location = cgroup.locate(os.getpid())
    if location is None:
        pytest.skip("this machine exposes no memory cgroup")
    memory = cgroup.read_memory(location)
    assert memory.usage and memory.usage > 0
    assert memory.limit is None or memory.limit > 0
    assert memory.oom_kills is None or memory.oom_kills >= 0
