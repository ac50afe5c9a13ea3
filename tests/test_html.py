"""The HTML report and `compare`, opened in a real headless Chromium: no console errors, no
network requests, the charts drawn with their series, the findings visible, and a target's
hostile names (file path, command line, thread names, a class attribute, a logger, dict keys)
shown as text, never run. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from memgrowth.report.downsample import align, min_max
from memgrowth.report.html import embed_json

from browser import Browser, chromium_path
from conftest import assert_one_line_error, memgrowth_command, run_memgrowth

HOSTILE = "</script><script>window.pwned=1</script><img src=x onerror=window.pwned=1>"
HOSTILE_TARGET = """
import logging, sys, threading, time

HOSTILE = sys.argv[1]

class Holder:
    pass

setattr(Holder, HOSTILE, [])  # a class attribute whose name is markup: a reference path
logging.getLogger(HOSTILE).info("a logger named with markup")
registry = {}  # a growing dict whose keys are markup


def park():
    time.sleep(120)


deadline = time.monotonic() + 14
while time.monotonic() < deadline:
    getattr(Holder, HOSTILE).append(bytearray(100_000))
    registry[HOSTILE + str(len(registry))] = bytearray(10_000)
    threading.Thread(target=park, name=HOSTILE, daemon=True).start()
    time.sleep(0.05)
"""


@pytest.fixture(scope="module")
def browser():
    chromium_path()
    opened = Browser()
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """The classic cache leak and the bounded lru cache from the zoo, and a target with
    hostile names, recorded for real with --html; then compare of the first two."""
    folder = tmp_path_factory.mktemp("html")
    hostile_script = folder / "<img src=x onerror=window.pwned=1>.py"
    hostile_script.write_text(HOSTILE_TARGET)

    def record(name):
        out, page = folder / f"{name}.db", folder / f"{name}.html"
        if name == "hostile":
            args = ["run", "--quiet", "--out", str(out), "--html", str(page), "--",
                    "python3", str(hostile_script), HOSTILE]
        else:
            args = ["demo", name, "--quiet", "--duration", "20", "--out", str(out),
                    "--html", str(page)]
        result = subprocess.run(memgrowth_command(*args), capture_output=True, text=True,
                                timeout=180)
        assert result.returncode == 0, result.stderr
        return name, (str(out), str(page))

    with ThreadPoolExecutor(max_workers=3) as pool:
        made = dict(pool.map(record, ["session-cache", "lru-cache", "hostile"]))
    compared = folder / "compare.html"
    result = run_memgrowth("compare", made["session-cache"][0], made["lru-cache"][0],
                           "--html", str(compared))
    assert result.returncode == 0, result.stderr
    made["compare"] = (result.stdout, str(compared))
    return made


def _chart_specs(path: str) -> list[dict]:
    text = Path(path).read_text(encoding="utf-8")
    block = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>',
                      text, re.S).group(1)
    return json.loads(block)


def test_the_cache_leak_report_draws_in_a_browser(reports, browser):
    recording, page = reports["session-cache"]
    opened = browser.open(page, screenshot="session-cache-report.png")
    assert opened.console == [] and opened.dialogs == []
    assert opened.requests == ["file://" + os.path.abspath(page)], opened.requests
    # Every chart of the data block was drawn, with every one of its series.
    specs = {spec["id"]: len(spec["series"]) for spec in _chart_specs(page)}
    drawn = {chart["id"]: chart["drawn"] for chart in opened.charts}
    assert drawn == specs
    assert {"timeline", "python-heap", "gc-rate", "pauses"} <= set(drawn)
    labels = [s["label"] for s in _chart_specs(page)[0]["series"]]
    for expected in ("RSS", "USS", "C heap (malloc in use)", "threads"):
        assert expected in labels, labels
    assert any(label.startswith("forecast") for label in labels)
    assert all(chart["width"] > 600 for chart in opened.charts)
    # The verdict and the top finding, with its holder and line, are on the page.
    diagnosis = json.loads(run_memgrowth("report", recording, "--json", "-").stdout)
    assert diagnosis["verdict"] == "leak"
    top = diagnosis["findings"][0]
    assert "Leak" in opened.text and top["title"] in opened.text
    assert "__main__._sessions" in opened.text and "session_cache.py:29" in opened.text
    for heading in ("Memory over time", "Garbage collection", "Who holds the memory",
                    "What the RSS is made of", "Run"):
        assert heading in opened.text


def test_a_hostile_target_is_shown_as_text_and_runs_nothing(reports, browser):
    _, page = reports["hostile"]
    text = Path(page).read_text(encoding="utf-8")
    # Three scripts: the data block, uPlot, the page's own; the name never opens a fourth.
    assert text.count("<script") == 3
    assert "<img src=x" not in text
    opened = browser.open(page, screenshot="hostile-names-report.png")
    assert not opened.pwned and opened.dialogs == [] and opened.console == []
    assert opened.requests == ["file://" + os.path.abspath(page)]
    assert HOSTILE in opened.text  # shown, literally, as text
    labels = [s["label"] for spec in _chart_specs(page) for s in spec["series"]]
    assert labels  # the charts drew, hostile command line and all


def test_compare_shows_the_fix(reports, browser):
    table, page = reports["compare"]
    assert "fixed: a leak before, none after" in table
    for row in ("baseline RSS", "peak RSS", "average RSS", "growth rate",
                "collections a minute", "GC pause p99", "verdict"):
        assert row in table
    opened = browser.open(page, screenshot="compare-report.png")
    assert opened.console == [] and opened.requests == ["file://" + os.path.abspath(page)]
    assert opened.charts == [{"id": "compare", "series": 2, "drawn": 2,
                              "width": opened.charts[0]["width"]}]
    assert "fixed: a leak before, none after" in opened.text
    assert "no leak" in opened.text and "leak" in opened.text


def test_a_day_at_one_sample_a_second_stays_small_and_draws(tmp_path, browser):
    from memgrowth.scenarios.synthetic import write_day

    recording, page = str(tmp_path / "day.db"), str(tmp_path / "day.html")
    write_day(recording)
    result = run_memgrowth("report", recording, "--html", page, timeout=300)
    assert result.returncode == 0, result.stderr
    assert os.path.getsize(page) <= 5_000_000
    opened = browser.open(page)
    assert opened.console == [] and opened.charts
    timeline = next(c for c in opened.charts if c["id"] == "timeline")
    spec = next(s for s in _chart_specs(page) if s["id"] == "timeline")
    assert timeline["drawn"] == len(spec["series"]) and len(spec["x"]) <= 6000


def test_html_to_a_folder_that_does_not_exist_is_refused_at_once(tmp_path):
    assert_one_line_error(run_memgrowth("run", "--html", str(tmp_path / "no" / "r.html"),
                                        "--", "true"), "cannot write")


@given(st.text())
def test_embedded_json_never_ends_its_script_block(value):
    text = embed_json({"label": value, "nested": [value]})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"label": value, "nested": [value]}


@given(st.lists(st.floats(-1e12, 1e12), min_size=1, max_size=5000))
def test_thinning_keeps_the_extremes(values):
    t = np.arange(len(values), dtype=float)
    y = np.array(values)
    kept_t, kept_y = min_max(t, y, buckets=50)
    assert len(kept_y) <= max(100, len(values)) and kept_y.max() == y.max()
    assert kept_y.min() == y.min() and np.all(np.diff(kept_t) > 0)
    x, columns = align({"a": (t, y), "b": (t[::3], y[::3])}, buckets=50, exact_up_to=100)
    assert max(v for v in columns["a"] if v is not None) == y.max()
    assert len(x) == len(columns["a"]) == len(columns["b"])
