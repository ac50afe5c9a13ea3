"""Robust trends: the floor under a noisy or saw-toothed curve, and Theil–Sen slopes on it.

A mean through a sawtooth follows the garbage; the floor follows what stays: per time bin the
lowest sample, with bins wide enough to hold a trough. Theil–Sen (the median of pairwise
slopes) on those points shrugs off outliers and steps, and its 95% interval comes from
Kendall's S (Sen 1968).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054
MAX_TREND_POINTS = 240  # Theil–Sen is quadratic in points; bins keep it fast for a day of data


@dataclass(frozen=True)
class Trend:
    """A slope per second with its 95% interval, fitted on `points` (t, y) pairs."""

    slope: float
    low: float
    high: float
    intercept: float
    points: int
    kendall_z: float  # Mann–Kendall trend statistic: > 1.64 means rising at 95% one-sided

    @property
    def standard_error(self) -> float:
        return max((self.high - self.low) / (2 * Z95), 1e-12)


def bin_minima(t: np.ndarray, y: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """The lowest sample of each of `bins` equal time bins, with its own time."""
    if len(t) == 0:
        return t, y
    if len(t) <= bins:
        return t.copy(), y.copy()
    edges = np.linspace(t[0], t[-1], bins + 1)
    index = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, bins - 1)
    order = np.lexsort((y, index))  # by bin, then by value: the first of each bin is its min
    first = np.ones(len(order), dtype=bool)
    first[1:] = index[order][1:] != index[order][:-1]
    chosen = np.sort(order[first])
    return t[chosen], y[chosen]


def floor(t: np.ndarray, y: np.ndarray, bins: int | None = None) -> tuple[np.ndarray,
                                                                           np.ndarray]:
    """The lower envelope: the lowest sample of each time bin.

    Bins are at least one sawtooth period wide (the longest gap between big drops), so that
    every bin, the last one included, holds a trough: the floor then follows what stays
    after collections, not the garbage between them.
    """
    if bins is None:
        bins = MAX_TREND_POINTS
        period = release_period(t, y)
        if period and len(t) >= 2:
            bins = int(min(max((t[-1] - t[0]) / period, 6), MAX_TREND_POINTS))
    return bin_minima(t, y, bins)


def release_period(t: np.ndarray, y: np.ndarray) -> float | None:
    """Typical time between big drops (collections releasing memory); None without them."""
    if len(y) < 6:
        return None
    spread = float(np.percentile(y, 90) - np.percentile(y, 10))
    if spread <= 0 or spread < 0.05 * abs(float(np.median(y))):
        return None  # no swings worth the name: noise, not a sawtooth
    drops = np.flatnonzero(np.diff(y) < -0.5 * spread)
    if len(drops) < 2 or t[drops[-1]] < (t[0] + t[-1]) / 2:
        return None  # a sawtooth still going in the recent half, or none at all
    return float(np.max(np.diff(t[drops + 1])))


def theil_sen(t: np.ndarray, y: np.ndarray) -> Trend | None:
    """Median pairwise slope with a 95% interval; None with fewer than 3 points."""
    n = len(t)
    if n < 3:
        return None
    if n > MAX_TREND_POINTS:
        t, y = bin_minima(t, y, MAX_TREND_POINTS)
        n = len(t)
    i, j = np.triu_indices(n, k=1)
    dt = t[j] - t[i]
    keep = dt > 0
    if not keep.any():
        return None
    slopes = np.sort((y[j] - y[i])[keep] / dt[keep])
    m = len(slopes)
    slope = float(np.median(slopes))
    variance = n * (n - 1) * (2 * n + 5) / 18.0
    c = Z95 * math.sqrt(variance)
    lo_index = int(max(0, math.floor((m - c) / 2)))
    hi_index = int(min(m - 1, math.ceil((m + c) / 2)))
    signs = np.sign(y[j] - y[i])[keep]
    s = float(signs.sum())
    z = 0.0 if s == 0 else (s - math.copysign(1.0, s)) / math.sqrt(variance)
    intercept = float(np.median(y - slope * t))
    return Trend(slope, float(slopes[lo_index]), float(slopes[hi_index]), intercept, n, z)


def normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))
