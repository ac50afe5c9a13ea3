"""Headless Chromium (Debian's, driven by Playwright) opening the HTML reports as a person
would: what the page logged, every request it made, the dialogs it opened, its charts."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

import pytest

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]
ARTIFACTS = os.path.join(os.path.dirname(__file__), "artifacts")


def chromium_path() -> str:
    """The system Chromium; skip (fail under CI=true) when it or Playwright is missing."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    missing = None
    if path is None:
        missing = "Debian's chromium (`apt-get install chromium`; `make test` installs it)"
    else:
        try:
            import playwright  # noqa: F401
        except ImportError:
            missing = "the playwright package (`pip install -e .[test]`)"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests need {missing} under CI=true")
        pytest.skip(f"browser tests need {missing}")
    return path


@dataclass
class Opened:
    text: str  # the page's visible text
    charts: list[dict]  # id and number of series of each drawn chart
    console: list[str] = field(default_factory=list)  # errors and warnings logged
    requests: list[str] = field(default_factory=list)  # every URL asked for
    dialogs: list[str] = field(default_factory=list)
    pwned: bool = False  # window.pwned, which a hostile name would set if it ran


class Browser:
    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(executable_path=chromium_path(),
                                                         args=CHROMIUM_FLAGS)

    def open(self, path: str, screenshot: str | None = None) -> Opened:
        page = self._browser.new_page(viewport={"width": 1280, "height": 900})
        opened = Opened(text="", charts=[])
        page.on("console", lambda m: opened.console.append(f"{m.type}: {m.text}")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: opened.console.append(f"pageerror: {e}"))
        page.on("request", lambda r: opened.requests.append(r.url))

        def dialog(d):
            opened.dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", dialog)
        page.goto("file://" + os.path.abspath(path))
        page.wait_for_selector("body[data-charts-ready]", timeout=20_000)
        opened.charts = page.evaluate(
            "window.memgrowthCharts.map(c => ({id: c.id, series: c.series, "
            "drawn: c.chart.series.length - 1, width: c.chart.width}))")
        opened.text = page.inner_text("body")
        opened.pwned = bool(page.evaluate("window.pwned === 1"))
        if screenshot:
            os.makedirs(ARTIFACTS, exist_ok=True)
            page.screenshot(path=os.path.join(ARTIFACTS, screenshot), full_page=True)
        page.close()
        return opened

    def close(self) -> None:
        self._browser.close()
        self._playwright.stop()
