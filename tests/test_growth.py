"""The statistics of the verdict on synthetic curves whose truth is known by construction."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memgrowth.analysis.growth import assess
from memgrowth.analysis.trend import floor, theil_sen

MiB = 1 << 20
rng = np.random.default_rng(7)


def _times(seconds=30.0, interval=0.5):
    return np.arange(0.0, seconds, interval)


def test_theil_sen_matches_the_median_of_all_pairwise_slopes():
    t = np.sort(rng.uniform(0, 100, 40))
    y = 3.0 * t + rng.normal(0, 20, 40)
    y[5] += 5000  # an outlier does not move it
    trend = theil_sen(t, y)
    pairs = [(y[j] - y[i]) / (t[j] - t[i]) for i, j in itertools.combinations(range(40), 2)]
    assert trend.slope == pytest.approx(np.median(pairs))
    assert trend.low < 3.0 < trend.high
    assert trend.kendall_z > 5


def test_theil_sen_interval_covers_the_true_slope_about_95_percent_of_the_time():
    t = np.arange(0.0, 60.0, 1.0)
    covered = 0
    for trial in range(200):
        noise = np.random.default_rng(trial).normal(0, 1.0, len(t))
        trend = theil_sen(t, 0.05 * t + noise)
        covered += trend.low <= 0.05 <= trend.high
    assert 0.88 <= covered / 200 <= 0.995


def test_floor_follows_the_troughs_of_a_sawtooth():
    t = np.arange(0.0, 40.0, 0.5)
    sawtooth = 100 + 50 * ((t % 4) / 4)  # rises for 4 s, then drops back to 100
    ft, fy = floor(t, sawtooth)
    assert len(fy) >= 3
    assert np.all(fy == 100), "every bin holds a trough, the last one too"


def test_linear_leak_under_noise_is_a_leak():
    t = _times()
    y = 50 * MiB + 1 * MiB * t + rng.normal(0, 2 * MiB, len(t))
    result = assess(t, y)
    assert result.verdict == "leak" and result.pattern == "linear"
    assert result.rate_ci95[0] < 1 * MiB < result.rate_ci95[1] * 1.05
    assert result.confidence > 0.95


def test_flat_noisy_curve_is_no_leak():
    t = _times()
    y = 200 * MiB + rng.normal(0, 0.3 * MiB, len(t))
    result = assess(t, y)
    assert result.verdict == "no_leak"
    assert result.pattern == "flat"


def test_warm_up_then_flat_is_a_plateau_not_a_leak():
    t = _times()
    y = np.where(t < 8, 10 * MiB + 10 * MiB * t, 90 * MiB) + rng.normal(0, 0.1 * MiB, len(t))
    result = assess(t, y)
    assert result.verdict == "no_leak"
    assert result.pattern == "plateau"


def test_gc_sawtooth_with_flat_floor_is_no_leak():
    t = _times(40.0, 0.25)
    y = 100 * MiB + 40 * MiB * ((t % 5) / 5)
    result = assess(t, y)
    assert result.verdict == "no_leak"
    assert result.pattern == "sawtooth"


def test_sawtooth_riding_on_a_leak_is_a_leak():
    t = _times(90.0, 0.25)  # a leak under a 5 s sawtooth needs a dozen periods to be sure of
    y = 100 * MiB + 40 * MiB * ((t % 5) / 5) + 0.5 * MiB * t
    result = assess(t, y)
    assert result.verdict == "leak"
    assert result.rate == pytest.approx(0.5 * MiB, rel=0.25)


def test_one_big_step_is_a_step():
    t = _times()
    y = np.where(t < 6, 40 * MiB, 140 * MiB).astype(float)
    result = assess(t, y)
    assert result.pattern == "step"
    assert result.verdict == "no_leak"


def test_slowing_growth_is_not_called_a_leak():
    t = _times()
    y = 20 * MiB + 60 * MiB * (1 - np.exp(-t / 6))
    assert assess(t, y).verdict != "leak"


@pytest.mark.parametrize(("t", "y", "why"), [
    ([], [], "no samples"),
    ([1.0], [5 * MiB], "1 sample"),
    (np.arange(0, 5, 0.5), np.arange(10) * MiB, "too little"),
])
def test_too_little_data_is_inconclusive_with_the_reason(t, y, why):
    result = assess(np.array(t), np.array(y, dtype=float))
    assert result.verdict == "inconclusive"
    assert why in result.reason
    assert result.record_more_s and result.record_more_s > 0


def test_noisy_short_run_is_inconclusive_and_says_how_long_to_record():
    t = np.arange(0.0, 12.0, 1.0)
    y = 100 * MiB + 0.1 * MiB * t + np.random.default_rng(3).normal(0, 3 * MiB, len(t))
    result = assess(t, y)
    assert result.verdict == "inconclusive"
    assert result.record_more_s >= 5


def test_clock_jumps_gaps_and_bad_values_are_tolerated():
    t = _times()
    y = 30 * MiB + 1 * MiB * t
    shuffled = rng.permutation(len(t))
    t2, y2 = t[shuffled].copy(), y[shuffled].copy()
    t2[:3] = [-5.0, np.nan, np.inf]  # out-of-range times are dropped
    y2[3] = np.nan
    gap = (t > 10) & (t < 18)  # a gap in sampling
    keep = ~gap[shuffled]
    result = assess(t2[keep], y2[keep])
    assert result.verdict == "leak"
    assert result.rate == pytest.approx(1 * MiB, rel=0.05)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.floats(-1e6, 1e6), st.just(float("nan"))),
                          st.one_of(st.floats(-1e12, 1e12), st.just(float("nan")))),
                max_size=60))
def test_assess_never_fails_on_arbitrary_input(points):
    t = np.array([p[0] for p in points], dtype=float)
    y = np.array([p[1] for p in points], dtype=float)
    result = assess(t, y)
    assert result.verdict in ("leak", "no_leak", "inconclusive")
    assert 0.0 <= result.confidence <= 1.0
