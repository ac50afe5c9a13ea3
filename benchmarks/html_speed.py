"""The HTML report of a day-long recording: its size, how long memgrowth takes to write it,
and how long headless Chromium takes to open it and draw its charts (from navigation to the
page's charts-ready mark, median of 5). Asserts nothing; prints.

    python benchmarks/html_speed.py [--hours 24]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "src"))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from memgrowth.analysis.diagnose import diagnose  # noqa: E402
from memgrowth.analysis.series import from_recording  # noqa: E402
from memgrowth.recording import open_recording  # noqa: E402
from memgrowth.report.html import render_report  # noqa: E402
from memgrowth.scenarios.synthetic import write_day  # noqa: E402

from browser import CHROMIUM_FLAGS  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        print("needs Debian's chromium (make chromium)")
        return 1
    with tempfile.TemporaryDirectory() as folder:
        recording_path, page_path = (os.path.join(folder, n) for n in ("day.db", "day.html"))
        seconds = write_day(recording_path, args.hours)
        started = time.perf_counter()
        recording = open_recording(recording_path)
        text = render_report(diagnose(recording), from_recording(recording), recording.meta)
        with open(page_path, "w", encoding="utf-8") as handle:
            handle.write(text)
        written = time.perf_counter() - started
        draws = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            for _ in range(args.rounds):
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto("file://" + page_path)
                page.wait_for_selector("body[data-charts-ready]")
                # From the start of navigation to the charts drawn, as the page measured it.
                draws.append(float(page.get_attribute("body", "data-charts-ms")) / 1000)
                page.close()
            browser.close()
    print(f"{args.hours:g} h at 1 sample/s ({seconds:,} ticks): report "
          f"{len(text.encode()) / 1e6:.2f} MB (budget 5 MB)")
    print(f"  memgrowth report --html (read, diagnose, render): {written:.2f} s")
    print(f"  Chromium opens it and draws its charts: {statistics.median(draws):.2f} s "
          f"(median of {args.rounds}; budget 2 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
