"""Every scenario of the leak zoo, run for real under memgrowth: the verdict must be the truth
and the top finding must name the right holder or the right line. Scenarios run four at a time."""

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from memgrowth.scenarios import SCENARIOS

from conftest import memgrowth_command

# What the top finding must be: its kind, and what its holder or `where` must name.
EXPECTED = {
    "session-cache": ("container", "holder", "__main__._sessions"),
    "global-list": ("container", "holder", "__main__.AUDIT_LOG"),
    "slow-leak-churn": ("container", "holder", "__main__.bus._subscribers"),
    "mp-worker": ("container", "holder", "__main__._results"),
    "stuck-threads": ("threads", "where", "stuck_threads.py:16 (handle)"),
    "asyncio-tasks": ("tasks", "where", "asyncio_tasks.py:13 (wait_for_ack)"),
    "gc-disabled": ("gc_disabled", "where", "gc_disabled.py:"),
    # Native allocations are invisible to Python's tracers: the finding names malloc.
    "native-leak": ("native", "where", "malloc"),
    "lru-cache": (None, None, None),
    "warm-up": (None, None, None),
    "gc-sawtooth": (None, None, None),
}
# The line that allocates what the holder keeps (the container's `where`).
ALLOCATED_AT = {
    "session-cache": "session_cache.py:29 (login)",
    "global-list": "global_list.py:21 (audit)",
    "mp-worker": "mp_worker.py:21 (work)",
    # slow-leak-churn's entries are a small tuple and a dict: CPython reuses those from its
    # free lists without a malloc, so tracemalloc cannot say where they were made.
}


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zoo")

    def run(name):
        report = folder / f"{name}.json"
        result = subprocess.run(
            memgrowth_command("demo", name, "--quiet", "--out", str(folder / f"{name}.db"),
                              "--json", str(report)),
            capture_output=True, text=True, timeout=180,
        )
        assert result.returncode == 0, result.stderr
        return name, json.loads(report.read_text())

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(run, SCENARIOS))


def test_every_scenario_has_an_expectation():
    assert set(EXPECTED) == set(SCENARIOS)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_verdict_is_the_truth(zoo, name):
    diagnosis = zoo[name]
    assert diagnosis["verdict"] == SCENARIOS[name].truth, (diagnosis["reason"],
                                                           diagnosis["growth"])
    assert diagnosis["confidence"] >= 0.85


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_top_finding_names_the_holder_or_the_line(zoo, name):
    diagnosis = zoo[name]
    kind, field, expected = EXPECTED[name]
    if kind is None:
        assert diagnosis["forecast"]["seconds_to_limit"] is None, "no forecast without growth"
        return
    top = diagnosis["findings"][0]
    assert top["kind"] == kind, diagnosis["findings"]
    assert expected in (top[field] or ""), top
    assert top["title"] and top["advice"] and top["evidence"]


@pytest.mark.parametrize("name", sorted(ALLOCATED_AT))
def test_the_holder_is_joined_to_the_line_that_fills_it(zoo, name):
    top = zoo[name]["findings"][0]
    assert (top["where"] or "").endswith(ALLOCATED_AT[name]), top


@pytest.mark.parametrize(("name", "leaking_type"), [("session-cache", "UserSession"),
                                                   ("global-list", "AuditRecord")])
def test_the_accumulating_type_is_named(zoo, name, leaking_type):
    top = zoo[name]["findings"][0]
    assert top["type"] == f"__main__.{leaking_type}"
    types = [f for f in zoo[name]["findings"] if f["kind"] == "type"]
    assert types and types[0]["type"] == f"__main__.{leaking_type}"
    assert zoo[name]["growth"]["metric"] == "heap"


def test_threads_and_tasks_name_where_they_started_and_wait(zoo):
    threads = zoo["stuck-threads"]["findings"][0]
    assert "'request-N'" in threads["title"]
    assert "stuck_threads.py:23 (serve)" in threads["evidence"]  # the line that starts them
    tasks = zoo["asyncio-tasks"]["findings"][0]
    assert tasks["type"] == "wait_for_ack"
    assert "asyncio_tasks.py:19 (on_event)" in tasks["evidence"].split("created at")[1]


def test_cycles_with_gc_off_name_the_types_in_them(zoo):
    top = zoo["gc-disabled"]["findings"][0]
    assert top["type"] in ("__main__.Request", "__main__.Session")
    assert "(in cycles)" in top["evidence"]


def test_child_process_findings_are_labelled_with_the_worker(zoo):
    diagnosis = zoo["mp-worker"]
    top = diagnosis["findings"][0]
    assert top["pid"] != diagnosis["target"]["pid"]
    assert f"pid {top['pid']} (multiprocessing worker)" in top["title"]
    frame = next(f for f in diagnosis["findings"] if f["kind"] == "child_process")
    assert frame["pid"] == top["pid"] and frame["share"] >= 0.5


def test_a_plateau_names_its_largest_holder(zoo):
    holders = [f for f in zoo["lru-cache"]["findings"] if f["kind"] == "container"]
    assert holders and holders[0]["holder"] == "__main__.price_quote (lru_cache)"
    assert "maxsize" in holders[0]["title"]


def test_leaks_get_a_forecast_and_json_follows_the_schema(zoo):
    diagnosis = zoo["session-cache"]
    assert diagnosis["schema"] == "memgrowth.diagnosis/1"
    for key in ("target", "duration_s", "exit", "baseline", "peak", "verdict", "confidence",
                "growth", "gc", "forecast", "findings"):
        assert key in diagnosis
    growth = diagnosis["growth"]
    low, high = growth["rate_ci95"]
    assert 0 < low <= growth["rate_bytes_per_s"] <= high
    forecast = diagnosis["forecast"]
    assert forecast["limit_source"] in ("cgroup", "system")
    assert forecast["seconds_to_limit"] > 0
    soonest, latest = forecast["seconds_to_limit_ci95"]
    assert soonest <= forecast["seconds_to_limit"] <= latest
    assert diagnosis["gc"]["collections"] > 0
    assert diagnosis["gc"]["pause_p99_ms"] >= diagnosis["gc"]["pause_p50_ms"]
