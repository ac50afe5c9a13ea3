"""Before and after: two diagnoses side by side, to prove a fix (pure)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memgrowth.analysis.diagnose import Diagnosis
from memgrowth.analysis.series import RunSeries


@dataclass(frozen=True)
class Row:
    label: str
    unit: str  # bytes | bytes/s | per_minute | ms | text | seconds
    before: float | str | None
    after: float | str | None

    @property
    def change(self) -> float | None:
        """after / before for numbers (None when either is missing or before is zero)."""
        if isinstance(self.before, (int, float)) and isinstance(self.after, (int, float)) \
                and self.before:
            return self.after / self.before
        return None


@dataclass(frozen=True)
class Comparison:
    rows: list[Row]
    fixed: bool  # a leak before, none after
    summary: str


def _average(run: RunSeries) -> float | None:
    """The RSS averaged over time (samples are denser at the start: a plain mean would
    weigh the start more)."""
    known = np.isfinite(run.rss)
    t, y = run.t[known], run.rss[known]
    if not len(y):
        return None
    if len(t) < 2 or t[-1] <= t[0]:
        return float(y.mean())
    return float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(t)) / (t[-1] - t[0]))


def compare(before: Diagnosis, before_run: RunSeries, after: Diagnosis,
            after_run: RunSeries) -> Comparison:
    """The before/after table: baseline, peak and average RSS, growth rate, collections a
    minute, pause p99, verdict."""
    def gc_rate(d: Diagnosis) -> float | None:
        if d.gc is not None:
            return d.gc.per_minute
        return d.go_gc.per_minute if d.go_gc is not None else None

    def pause(d: Diagnosis) -> float | None:
        if d.gc is not None:
            return d.gc.pause_p99_ms
        return d.go_gc.pause_max_ms if d.go_gc is not None else None

    rows = [
        Row("duration", "seconds", before.summary.duration_s, after.summary.duration_s),
        Row("baseline RSS", "bytes", before.summary.baseline_rss, after.summary.baseline_rss),
        Row("peak RSS", "bytes", before.summary.peak_rss, after.summary.peak_rss),
        Row("average RSS", "bytes", _average(before_run), _average(after_run)),
        Row("growth rate", "bytes/s", before.rate_bytes_per_s, after.rate_bytes_per_s),
        Row("collections a minute", "per_minute", gc_rate(before), gc_rate(after)),
        Row("GC pause p99", "ms", pause(before), pause(after)),
        Row("verdict", "text", before.verdict, after.verdict),
    ]
    fixed = before.verdict == "leak" and after.verdict == "no_leak"
    if fixed:
        summary = "fixed: a leak before, none after"
    elif before.verdict == after.verdict == "leak":
        b, a = before.rate_bytes_per_s, after.rate_bytes_per_s
        summary = ("still leaking" + (f", at {a / b:.0%} of the rate before" if a and b
                                      else ""))
    elif after.verdict == "leak":
        summary = "worse: a leak after, not before"
    elif "inconclusive" in (before.verdict, after.verdict):
        summary = "undecided: one recording is too short or too noisy to judge"
    else:
        summary = "no leak in either"
    return Comparison(rows, fixed, summary)
