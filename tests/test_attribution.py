"""Attribution inside real targets: holders by reference path, allocation sites, threads and
tasks by their lines, and an agent that survives hostile objects without calling them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from memgrowth.analysis.diagnose import diagnose
from memgrowth.recording import open_recording

from conftest import require_toolchain, run_memgrowth

# A small application package: each module leaks into a different kind of holder.
APP = {
    "app/__init__.py": "",
    "app/cache.py": """
        _sessions = {}

        class Session:
            def __init__(self, user):
                self.user = user
                self.data = [user] * 20

        def login(user):
            _sessions[user] = Session(user)
    """,
    "app/audit.py": """
        class Audit:
            records = []

            @classmethod
            def write(cls, event):
                cls.records.append({"event": event, "note": "n" * 100})
    """,
    "app/events.py": """
        class Bus:
            def __init__(self):
                self._subscribers = []

            def subscribe(self, callback):
                self._subscribers.append(callback)

        bus = Bus()
    """,
    "app/pricing.py": """
        import functools

        class Handler:
            @functools.lru_cache(maxsize=None)
            def price(self, product):
                return {"product": product, "amount": [product] * 10}

        handler = Handler()
    """,
    "service.py": """
        import json, logging, sys, threading, time
        from app import audit, cache, events, pricing

        stop = threading.Event()

        def collector():
            pending = []
            while not stop.is_set():
                pending.append(json.loads('{"sample": [1, 2, 3], "name": "x"}'))
                time.sleep(0.004)

        def main(seconds):
            threading.Thread(target=collector, name="collector", daemon=True).start()
            deadline = time.monotonic() + seconds
            i = 0
            while time.monotonic() < deadline:
                for _ in range(10):
                    cache.login(f"user{i}")
                    audit.Audit.write(i)
                    events.bus.subscribe(lambda event, i=i: i)
                    pricing.handler.price(i)
                    logging.getLogger(f"request.{i}")
                    i += 1
                time.sleep(0.04)
            stop.set()

        main(float(sys.argv[1]))
    """,
}


def _write_app(folder: Path) -> Path:
    for name, source in APP.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return folder / "service.py"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """The application recorded for 14 s, diagnosed."""
    folder = tmp_path_factory.mktemp("service")
    target = _write_app(folder)
    out = folder / "rec.db"
    report = folder / "report.json"
    result = run_memgrowth("run", "--quiet", "--out", str(out), "--json", str(report), "--",
                           sys.executable, str(target), "14", cwd=folder, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(report.read_text()), open_recording(str(out))


def _line(name: str, text: str) -> int:
    """The line of APP[name] (as written to disk) that contains text."""
    lines = textwrap.dedent(APP[name]).splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def _containers(diagnosis):
    return {f["holder"]: f for f in diagnosis["findings"] if f["kind"] == "container"}


def test_module_global_is_named_with_the_line_that_fills_it(service):
    diagnosis, _ = service
    sessions = _containers(diagnosis)["app.cache._sessions"]
    assert sessions["type"] == "app.cache.Session"
    # Relative to the target's working folder.
    assert sessions["where"] == f"app/cache.py:{_line('app/cache.py', '_sessions[user] =')} (login)"
    assert sessions["rate_bytes_per_s"] > 0
    assert "never removed" in sessions["advice"]


def test_class_attribute_and_instance_attribute_are_named(service):
    diagnosis, _ = service
    holders = _containers(diagnosis)
    assert "app.audit.Audit.records" in holders
    assert "app.events.bus._subscribers" in holders
    assert "unsubscribe" in holders["app.events.bus._subscribers"]["advice"]
    assert "deque(maxlen" in holders["app.audit.Audit.records"]["advice"]


def test_lru_cache_on_a_method_is_named_and_advised(service):
    diagnosis, _ = service
    cache = _containers(diagnosis)["app.pricing.Handler.price (lru_cache)"]
    assert "maxsize" in cache["advice"] and "method" in cache["advice"]


def test_logging_manager_logger_dict_is_named(service):
    diagnosis, _ = service
    loggers = [h for h in _containers(diagnosis) if h.endswith("manager.loggerDict")]
    assert loggers and loggers[0].startswith("logging."), list(_containers(diagnosis))


def test_a_local_variable_of_a_thread_is_named(service):
    diagnosis, _ = service
    local = _containers(diagnosis).get("thread 'collector' collector() local 'pending'")
    assert local is not None, list(_containers(diagnosis))
    # json.loads allocated the entries; `where` is the user's line that called it.
    assert local["where"] == f"service.py:{_line('service.py', 'pending.append')} (collector)"
    assert "json/decoder.py" in local["evidence"]


def test_findings_are_ranked_by_rate_and_the_json_fields_are_complete(service):
    diagnosis, _ = service
    assert diagnosis["verdict"] == "leak"
    containers = [f for f in diagnosis["findings"] if f["kind"] == "container"]
    rates = [f["rate_bytes_per_s"] for f in containers]
    assert rates == sorted(rates, reverse=True)
    for finding in containers:
        assert set(finding) >= {"kind", "title", "where", "holder", "type",
                                "rate_bytes_per_s", "share", "evidence", "advice"}
        assert 0 < finding["share"] <= 1


def test_allocation_sites_rank_user_lines_with_their_stacks(service):
    _, recording = service
    sites = [r for r in recording.rows("attribution") if r["kind"] == "site"]
    assert sites, "no tracemalloc window was opened while the heap grew"
    details = [json.loads(r["detail"]) for r in sites]
    # `where` is always the first frame in the user's code, never the standard library.
    assert all("python3" not in d["file"] for d in details)
    assert any(d["file"].endswith("app/cache.py") for d in details)
    assert all(d["stack"] for d in details)


def test_the_agent_stays_inside_its_pause_budget(service):
    _, recording = service
    pauses = [p for p in recording.column("agent_samples", "agent_max_pause_s") if p]
    assert pauses and max(pauses) < 0.5  # a bound that catches runaway pauses, not timing


def test_attribution_is_rebuilt_offline_from_the_recording(service):
    diagnosis, recording = service
    again = diagnose(recording)
    assert [f.holder for f in again.findings] == [f["holder"] for f in diagnosis["findings"]]


HOSTILE = """
    import array, collections, os, sys, threading, time

    MARK = sys.argv[1]

    def called(what):
        with open(MARK, "a") as handle:
            handle.write(what + "\\n")

    class Hostile:
        def __repr__(self):
            called("repr"); raise RuntimeError("repr")
        def __eq__(self, other):
            called("eq"); time.sleep(3600)
        def __hash__(self):
            called("hash"); raise RuntimeError("hash")
        def __len__(self):
            called("len"); raise RuntimeError("len")
        def __getattr__(self, name):
            called("getattr " + name); raise RuntimeError(name)
        def __sizeof__(self):
            called("sizeof"); raise RuntimeError("sizeof")
        @property
        def __class__(self):
            called("class"); raise RuntimeError("class")
        @property
        def __dict__(self):
            called("dict"); raise RuntimeError("dict")

    class HostileDict(dict):
        def __len__(self):
            called("dict len"); raise RuntimeError("len")
        def __iter__(self):
            called("dict iter"); raise RuntimeError("iter")
        def items(self):
            called("dict items"); raise RuntimeError("items")
        def values(self):
            called("dict values"); raise RuntimeError("values")

    class Meta(type):
        def __eq__(cls, other):
            called("meta eq"); raise RuntimeError("meta eq")
        __hash__ = None
        def __getattribute__(cls, name):
            called("meta getattribute " + name); raise RuntimeError(name)

    class Weird(metaclass=Meta):
        pass

    hostile_items = HostileDict()
    hostile_list = []
    weird = []
    natives = collections.deque()  # C objects without tp_traverse: nothing to walk into
    huge = list(range(3_000_000))
    mutating = {}
    holder = Hostile()

    def mutate():
        i = 0
        while True:
            mutating[i] = [i]
            mutating.pop(i - 500, None)
            i += 1

    def short_lived():
        while True:
            threading.Thread(target=time.sleep, args=(0.001,)).start()
            time.sleep(0.002)

    threading.Thread(target=mutate, daemon=True).start()
    threading.Thread(target=short_lived, daemon=True).start()
    deadline = time.monotonic() + float(sys.argv[2])
    i = 0
    while time.monotonic() < deadline:
        for _ in range(50):
            dict.__setitem__(hostile_items, i, Hostile())
            hostile_list.append(Hostile())
            weird.append(Weird())
            natives.append(array.array("d", [1.0] * 8))
            i += 1
        time.sleep(0.02)
    print("finished", len(hostile_list), flush=True)
"""


def test_hostile_objects_are_never_called_and_the_agent_keeps_reporting(tmp_path, script):
    target = script(HOSTILE)
    mark = tmp_path / "called.txt"
    out = tmp_path / "rec.db"
    result = run_memgrowth("run", "--quiet", "--out", str(out), "--json", "-", "--",
                           sys.executable, target, str(mark), "8", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "finished" in result.stdout
    assert not mark.exists(), f"the agent ran target code: {mark.read_text()}"
    recording = open_recording(str(out))
    containers = {r["key"] for r in recording.rows("attribution") if r["kind"] == "container"}
    assert {"__main__.hostile_items", "__main__.hostile_list", "__main__.huge",
            "__main__.natives", "__main__.weird"} <= containers
    # The agent reported until the end, not just until the first hostile object.
    samples = recording.column("agent_samples", "t")
    assert samples and samples[-1] > 7.0
    scans = sorted({r["t"] for r in recording.rows("attribution") if r["kind"] == "container"})
    assert len(scans) >= 3 and scans[-1] > 6.0


def test_a_target_tracing_for_itself_keeps_its_tracemalloc(tmp_path, script):
    target = script("""
        import time, tracemalloc
        tracemalloc.start(3)
        kept = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            kept.extend([i] for i in range(2000))
            time.sleep(0.02)
        print("tracing", tracemalloc.is_tracing(), tracemalloc.get_traceback_limit(), flush=True)
    """)
    out = tmp_path / "rec.db"
    result = run_memgrowth("run", "--quiet", "--out", str(out), "--", sys.executable, target)
    assert result.returncode == 0, result.stderr
    assert "tracing True 3" in result.stdout
    recording = open_recording(str(out))
    assert not [r for r in recording.rows("attribution") if r["kind"] == "site"]
    assert [r for r in recording.rows("attribution") if r["kind"] == "container"]


def test_allocation_sites_export_as_a_pprof_heap_profile(service, tmp_path):
    _, recording = service
    out = tmp_path / "sites.pb.gz"
    result = run_memgrowth("report", recording.path, "--pprof", str(out))
    assert result.returncode == 0, result.stderr
    from memgrowth.formats.pprof import parse
    from memgrowth.report.pprof_top import top

    profile = parse(out.read_bytes())
    assert [t.type for t in profile.sample_types] == ["inuse_objects", "inuse_space"]
    assert all(s.num_labels["pid"] for s in profile.samples)
    ours = top(profile).text()
    assert "login" in ours
    require_toolchain("go")
    theirs = subprocess.run(["go", "tool", "pprof", "-top", str(out)], capture_output=True,
                            text=True, check=True, env={**os.environ, "TZ": "UTC"}).stdout
    assert theirs == ours
