"""Leak or not: the pattern of a memory curve and a verdict with its confidence.

The verdict rests on the floor's trend over the recent half of the run (the first half may be
a warm-up or a cache filling). It is `leak` when that trend is surely rising by a material
amount and not slowing down, `no_leak` when a material rise is ruled out, and `inconclusive`
otherwise, with an estimate of how much longer to record. "Material" is 0.25% of the level
or 1 MiB over the window, whichever is larger: smaller drifts are not worth a person's day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memgrowth.analysis.trend import Trend, floor, normal_cdf, theil_sen
from memgrowth.units import format_bytes

MIN_DURATION_S = 10.0
MIN_POINTS = 8
LEAK_MIN_POINTS = 6  # floor points in the recent half before a rise can be called a leak
MATERIAL_SHARE = 0.0025
MATERIAL_BYTES = 1 << 20
DECELERATION = 0.5  # the last third surely growing at under half the window's pace: slowing
SAWTOOTH_SWING = 0.15  # swings above 15% of the level over a flat floor: a sawtooth
STEP_SHARE = 0.6  # one jump carrying 60% of the growth: a step


@dataclass
class GrowthAssessment:
    """What a memory curve says: pattern, verdict, rate (units per second) and why."""

    pattern: str  # flat | plateau | linear | step | sawtooth
    verdict: str  # leak | no_leak | inconclusive
    confidence: float
    rate: float | None
    rate_ci95: tuple[float, float] | None
    reason: str
    record_more_s: float | None = None
    level: float | None = None  # typical value over the recent window
    material: float | None = None  # the rise over the window that would matter
    window_s: float | None = None
    recent: Trend | None = None
    floor_t: np.ndarray | None = None
    floor_y: np.ndarray | None = None


def assess(t: np.ndarray, y: np.ndarray, material_floor: float = MATERIAL_BYTES,
           material_share: float = MATERIAL_SHARE, unit: str = "bytes") -> GrowthAssessment:
    """Assess one curve: times in seconds (any order), values in bytes or in `unit`s."""
    q = _quantity(unit)
    t, y = _clean(np.asarray(t, dtype=float), np.asarray(y, dtype=float))
    if len(t) == 0:
        return GrowthAssessment("flat", "inconclusive", 0.0, None, None,
                                "no samples were recorded", MIN_DURATION_S)
    duration = float(t[-1] - t[0])
    if len(t) < MIN_POINTS or duration < MIN_DURATION_S:
        return GrowthAssessment(
            "flat", "inconclusive", 0.0, None, None,
            f"{len(t)} sample{'s' if len(t) != 1 else ''} over {duration:.1f} s: too little to "
            f"decide (need {MIN_POINTS} samples over {MIN_DURATION_S:g} s)",
            max(MIN_DURATION_S - duration, 1.0),
        )
    ft, fy = floor(t, y)
    half = t[0] + duration / 2
    in_recent = ft >= half
    recent = theil_sen(ft[in_recent], fy[in_recent])
    window = float(t[-1] - half)
    level = float(np.median(y[t >= half]))
    material = max(material_share * abs(level), material_floor)
    base = dict(level=level, material=material, window_s=window, recent=recent,
                floor_t=ft, floor_y=fy)
    if recent is None:
        return GrowthAssessment("flat", "inconclusive", 0.0, None, None,
                                "too few samples in the recent half", MIN_DURATION_S, **base)
    rate, low, high = recent.slope, recent.low, recent.high
    pattern = _pattern(t, y, fy, recent, window, material)
    threshold = material / window  # the rate that would rise by `material` over the window
    last = _last_third(ft[in_recent], fy[in_recent])
    slowing = last is not None and recent.slope > 0 and last.high < DECELERATION * recent.slope
    if slowing and last is not None and last.high * window < material:
        reason = (f"the floor rose early in the last {window:.0f} s, then levelled off: at most "
                  f"{q(max(last.high, 0) * window)} over a window at its latest pace (95%)")
        confidence = normal_cdf((threshold - last.slope) / last.standard_error)
        return GrowthAssessment("plateau", "no_leak", _clip(confidence), rate, (low, high),
                                reason, **base)
    if low > 0 and rate >= threshold and not slowing and recent.points >= LEAK_MIN_POINTS:
        confidence = normal_cdf((rate - threshold / 2) / recent.standard_error)
        reason = (f"the floor rose {q(rate * window)} over the last {window:.0f} s, "
                  f"steadily (rate {q(low)} to {q(high)} per s, 95%)")
        return GrowthAssessment(pattern, "leak", _clip(confidence), rate, (low, high), reason,
                                **base)
    if high < threshold:
        confidence = normal_cdf((threshold - rate) / recent.standard_error)
        reason = (f"over the last {window:.0f} s the floor rose at most "
                  f"{q(max(high, 0) * window)} (95%), under the {q(material)} that would matter")
        return GrowthAssessment(pattern, "no_leak", _clip(confidence), rate, (low, high), reason,
                                **base)
    more = _record_more(duration, recent, threshold)
    if slowing and low > 0:
        reason = "the floor still rises but is slowing down: a cache filling up or a warm-up?"
    else:
        reason = (f"the rate ({q(low)} to {q(high)} per s, 95%) cannot yet rule in or out "
                  f"a rise of {q(material)} over {window:.0f} s")
    leading = max(normal_cdf((rate - threshold / 2) / recent.standard_error),
                  normal_cdf((threshold - rate) / recent.standard_error))
    return GrowthAssessment(pattern, "inconclusive", _clip(leading), rate, (low, high), reason,
                            more, **base)


def _quantity(unit: str):
    if unit == "bytes":
        return format_bytes
    return lambda value: f"{value:,.{0 if abs(value) >= 100 else 1}f} {unit}"


def _clean(t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Time-ordered, finite, non-negative-time samples (clock jumps and gaps are tolerated)."""
    keep = np.isfinite(t) & np.isfinite(y) & (t >= 0)
    t, y = t[keep], y[keep]
    order = np.argsort(t, kind="stable")
    return t[order], y[order]


def _pattern(t: np.ndarray, y: np.ndarray, fy: np.ndarray, recent: Trend, window: float,
             material: float) -> str:
    rise = float(fy[-1] - fy[0])
    if rise >= material:
        jumps = np.diff(fy)
        if len(jumps) and jumps.max() >= STEP_SHARE * rise:
            return "step"
        return "linear" if max(recent.slope, 0.0) * window >= material else "plateau"
    level = abs(float(np.median(y)))
    if level > 0 and _swing(t, y) >= SAWTOOTH_SWING * level:
        return "sawtooth"
    return "flat"


def _swing(t: np.ndarray, y: np.ndarray, bins: int = 20) -> float:
    """Typical rise above the floor: the median gap between bin maxima and the floor."""
    if len(t) < 4:
        return 0.0
    edges = np.linspace(t[0], t[-1], bins + 1)
    index = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, bins - 1)
    highs = np.full(bins, -np.inf)
    np.maximum.at(highs, index, y)
    lows = np.full(bins, np.inf)
    np.minimum.at(lows, index, y)
    suffix_floor = np.minimum.accumulate(lows[::-1])[::-1]
    gaps = (highs - suffix_floor)[np.isfinite(highs) & np.isfinite(suffix_floor)]
    return float(np.median(gaps)) if len(gaps) else 0.0


def _last_third(ft: np.ndarray, fy: np.ndarray) -> Trend | None:
    """The trend of the last third of the window (None with too few points)."""
    if len(ft) < 9:
        return None
    cut = ft[0] + (ft[-1] - ft[0]) * 2 / 3
    return theil_sen(ft[ft >= cut], fy[ft >= cut])


def _record_more(duration: float, recent: Trend, threshold: float) -> float:
    """Seconds more to record before the interval should exclude one side of the threshold.

    The interval of a trend's slope narrows roughly as duration^-1.5 (more points, longer
    lever arm), so the duration must grow by (needed width / current width)^(-2/3).
    """
    half_width = (recent.high - recent.low) / 2
    distance = max(abs(recent.slope - threshold), abs(recent.slope), threshold / 4, 1e-12)
    factor = max(1.2, (half_width / distance) ** (2 / 3))
    return float(min(max(duration * (factor - 1), 5.0), 24 * 3600.0))


def _clip(value: float) -> float:
    return round(min(max(value, 0.5), 0.999), 3)
