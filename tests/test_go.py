"""Go targets observed through their own endpoints (expvar, pprof), for real: the Go zoo
under `memgrowth run`, with the endpoint discovered or given, and endpoints that misbehave."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from memgrowth.recording import open_recording
from memgrowth.scenarios import GO_PROGRAMS

from conftest import assert_one_line_error, build_go, free_port, memgrowth_command, run_memgrowth

SECONDS = "25"


@pytest.fixture(scope="module")
def go_zoo(tmp_path_factory):
    """The three Go programs recorded side by side; bounded-cache with --endpoint given."""
    folder = tmp_path_factory.mktemp("gozoo")

    def record(name):
        binary = build_go(GO_PROGRAMS[name], folder)
        port = free_port()
        flags = ["--endpoint", f"http://127.0.0.1:{port}"] if name == "bounded-cache" else []
        out, report = folder / f"{name}.db", folder / f"{name}.json"
        env = {k: v for k, v in os.environ.items() if k not in ("GOGC", "GOMEMLIMIT")}
        if name == "map-cache":  # the service's setting, as the recorder should read it
            env["GOGC"] = "100"
        result = subprocess.run(
            memgrowth_command("run", "--quiet", "--out", str(out), "--json", str(report),
                              *flags, "--", binary, "-seconds", SECONDS,
                              "-listen", f"127.0.0.1:{port}"),
            capture_output=True, text=True, timeout=120, env=env)
        assert result.returncode == 0, result.stderr
        return name, (json.loads(report.read_text()), open_recording(str(out)))

    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(pool.map(record, GO_PROGRAMS))


def test_a_go_map_cache_leak_is_traced_to_its_line(go_zoo):
    diagnosis, recording = go_zoo["map-cache"]
    assert diagnosis["verdict"] == "leak" and diagnosis["target"]["runtime"] == "go"
    top = diagnosis["findings"][0]
    assert top["kind"] == "site", diagnosis["findings"]
    assert top["where"].endswith("map_cache.go:23 (main.handle)")
    assert top["share"] >= 0.5
    assert any(e["kind"] == "go_endpoint" for e in recording.events())  # discovered


def test_leaked_goroutines_are_named_by_where_they_wait(go_zoo):
    diagnosis, _ = go_zoo["goroutine-leak"]
    assert diagnosis["verdict"] == "leak"
    assert diagnosis["growth"]["metric"] == "goroutines"
    top = diagnosis["findings"][0]
    assert top["kind"] == "goroutines"
    assert top["where"].endswith("goroutine_leak.go:18 (main.awaitReply)")
    assert diagnosis["go"]["memory"]["goroutines"] > 500


def test_a_bounded_cache_with_a_lazy_gc_is_not_a_leak(go_zoo):
    diagnosis, recording = go_zoo["bounded-cache"]
    assert diagnosis["verdict"] == "no_leak", diagnosis["reason"]
    assert diagnosis["forecast"]["seconds_to_limit"] is None
    samples = recording.rows("go_samples")
    assert len(samples) >= 15
    # The lazy GC (GOGC=400): the heap swings well above what each collection keeps.
    heap = [r["heap_alloc"] for r in samples]
    assert max(heap) > 2 * min(heap)


def test_rss_is_reconciled_with_the_go_heap(go_zoo):
    diagnosis, _ = go_zoo["map-cache"]
    memory, gc = diagnosis["go"]["memory"], diagnosis["go"]["gc"]
    parts = sum(memory[k] for k in ("heap_alloc_bytes", "heap_unused_bytes",
                                    "heap_idle_kept_bytes", "stacks_bytes",
                                    "runtime_metadata_bytes", "other_bytes"))
    assert parts <= memory["sys_bytes"] <= memory["sys_bytes"] + memory["heap_released_bytes"]
    assert 0.6 * memory["rss_bytes"] < parts < 1.2 * memory["rss_bytes"]
    assert gc["collections"] > 10 and gc["per_minute"] > 0


def _gogc(recording) -> dict:
    result = run_memgrowth("gogc", recording.path, "--values", "50,100,200,400,off", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_gogc_replays_a_recorded_service(go_zoo):
    """The map cache's workload from its recording: its setting read from its environment,
    and the model at that setting close to the collections the service really made."""
    _, recording = go_zoo["map-cache"]
    assert any(e["detail"].get("GOGC") == "100" for e in recording.events("go_settings"))
    table = _gogc(recording)
    recorded = table["recorded"]
    assert recorded["setting"] == "GOGC=100" and recorded["setting_source"] == "environment"
    samples = [r["num_gc"] for r in recording.rows("go_samples") if r["num_gc"] is not None]
    assert recorded["num_gc"] == samples[-1] - samples[0] > 10
    rows = {row["setting"]: row for row in table["settings"]}
    model = rows["GOGC=100"]["num_gc"]
    assert 0.67 * recorded["num_gc"] <= model <= 1.5 * recorded["num_gc"], table
    assert rows["GOGC=50"]["num_gc"] > model > rows["GOGC=200"]["num_gc"]
    assert rows["GOGC=50"]["peak_memory_bytes"] < rows["GOGC=200"]["peak_memory_bytes"]


def test_gogc_reads_a_setting_the_program_made_itself(go_zoo):
    """bounded-cache calls debug.SetGCPercent(400): no environment says so, its heap goals
    do."""
    _, recording = go_zoo["bounded-cache"]
    recorded = _gogc(recording)["recorded"]
    assert recorded["setting"] == "GOGC=400", recorded
    assert recorded["setting_source"].startswith("inferred")


class _NotGo(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the http.server API
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


def _sleeper():
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_a_non_go_endpoint_gets_one_clear_line():
    server = HTTPServer(("127.0.0.1", 0), _NotGo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = _sleeper()
    try:
        result = run_memgrowth("attach", str(target.pid), "--endpoint",
                               f"http://127.0.0.1:{server.server_port}", "--duration", "2")
        assert_one_line_error(result, "does not answer like a Go service")
    finally:
        server.shutdown()
        target.kill()


def test_a_hanging_endpoint_times_out_with_one_line():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections, never answers
    target = _sleeper()
    started = time.monotonic()
    try:
        result = run_memgrowth("attach", str(target.pid), "--endpoint",
                               f"http://127.0.0.1:{listener.getsockname()[1]}",
                               "--duration", "2", timeout=60)
        assert_one_line_error(result, "does not answer like a Go service")
        assert "timed out" in result.stderr
        assert time.monotonic() - started < 30
    finally:
        listener.close()
        target.kill()


def test_a_bad_endpoint_url_is_refused():
    assert_one_line_error(run_memgrowth("run", "--endpoint", "ftp://example", "--",
                                        sys.executable, "-c", "pass"), "--endpoint must be")


def test_run_gctrace_records_the_trace_and_passes_other_output_on(tmp_path):
    binary = build_go(GO_PROGRAMS["map-cache"], tmp_path)
    out = tmp_path / "rec.db"
    result = run_memgrowth(
        "run", "--gctrace", "--quiet", "--out", str(out), "--json", str(tmp_path / "d.json"),
        "--", "sh", "-c", f"echo before >&2; {binary} -seconds 14; echo after >&2",
        timeout=120)
    assert result.returncode == 0, result.stderr
    assert "before" in result.stderr and "after" in result.stderr
    assert "gc 1 @" not in result.stderr  # taken out, not passed on
    rows = open_recording(str(out)).rows("gctrace")
    assert len(rows) >= 20
    assert rows[-1]["heap_live"] > rows[0]["heap_live"]
    diagnosis = json.loads((tmp_path / "d.json").read_text())
    assert diagnosis["verdict"] == "leak" and diagnosis["target"]["runtime"] == "go"


def test_snapshot_of_a_go_service_shows_its_memstats(tmp_path):
    binary = build_go(GO_PROGRAMS["bounded-cache"], tmp_path)
    port = free_port()
    service = subprocess.Popen([binary, "-seconds", "30", "-listen", f"127.0.0.1:{port}"])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        result = run_memgrowth("snapshot", str(service.pid))
        assert result.returncode == 0, result.stderr
        assert f"runtime.MemStats from http://127.0.0.1:{port}" in result.stdout
        for row in ("HeapAlloc", "HeapIdle", "NumGC", "goroutines"):
            assert row in result.stdout
    finally:
        service.kill()
        service.wait()


def test_go_demo_without_the_toolchain_says_what_it_needs(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    env = {**os.environ, "PATH": str(bin_dir)}
    result = run_memgrowth("demo", "map-cache", env=env)
    assert_one_line_error(result, "needs the Go toolchain")


def test_the_demo_lists_the_go_scenarios():
    result = run_memgrowth("demo")
    assert result.returncode == 0
    for name in GO_PROGRAMS:
        assert name in result.stdout


def test_discovery_asks_a_service_that_is_not_go_once_per_port():
    requests = []

    class Counting(_NotGo):
        def do_GET(self):  # noqa: N802 - the http.server API
            requests.append(self.path)
            super().do_GET()

    server = HTTPServer(("127.0.0.1", 0), Counting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # This very process listens on the server's port: discovery on our pid finds it.
        from memgrowth.probes.go import discover

        tried: set[int] = set()
        for _ in range(3):
            assert discover(os.getpid(), tried) is None
        assert requests.count("/debug/pprof/") == 1
    finally:
        server.shutdown()


def test_the_html_report_of_a_go_service(go_zoo, tmp_path):
    """The map cache's report in headless Chromium: Go's heap and goroutines drawn beside
    the RSS, its collections per minute, the leaking line on the page."""
    from browser import Browser, chromium_path

    chromium_path()
    _, recording = go_zoo["map-cache"]
    page = tmp_path / "map-cache.html"
    result = run_memgrowth("report", recording.path, "--html", str(page))
    assert result.returncode == 0, result.stderr
    browser = Browser()
    try:
        opened = browser.open(str(page), screenshot="go-map-cache-report.png")
    finally:
        browser.close()
    assert opened.console == [] and opened.requests == [page.resolve().as_uri()]
    charts = {chart["id"]: chart for chart in opened.charts}
    assert set(charts) >= {"timeline", "gc-rate"}
    assert all(chart["drawn"] == chart["series"] for chart in opened.charts)
    text = page.read_text()
    for label in ("Go HeapAlloc", "Go heap after GC", "goroutines", "Go collections per minute"):
        assert f'"label":"{label}' in text, label
    assert "map_cache.go:23 (main.handle)" in opened.text
