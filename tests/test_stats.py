"""Latency statistics: order-statistic CI of the median, percentiles and the trust warnings."""

import math

import numpy as np
import pytest

from mobilekit.runtime import stats


def _coverage(n: int, lo: int, hi: int) -> float:
    """P(x_(lo) <= median <= x_(hi)) for continuous samples: 1 - 2 P(Binomial(n, 1/2) <= lo)."""
    return 1 - 2 * sum(math.comb(n, i) for i in range(lo + 1)) / 2**n


@pytest.mark.parametrize("n", [6, 10, 20, 30, 50, 100, 101, 400])
def test_median_ci_ranks_are_the_tightest_with_95_percent_coverage(n):
    lo, hi = stats.median_ci_ranks(n)
    assert hi == n - 1 - lo
    assert _coverage(n, lo, hi) >= 0.95
    assert _coverage(n, lo + 1, hi - 1) < 0.95  # one rank tighter is not enough


def test_median_ci_matches_published_table():
    # 1-based ranks (2, 9) for n = 10 and (40, 61) for n = 100 (e.g. Conover, Practical
    # Nonparametric Statistics, table of binomial order statistics)
    assert stats.median_ci_ranks(10) == (1, 8)
    assert stats.median_ci_ranks(100) == (39, 60)


def test_median_ci_covers_true_median_about_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(2000):
        sample = rng.lognormal(0.0, 0.5, size=40)  # skewed like latencies, true median 1.0
        lo, hi = stats.summarize(sample.tolist())["median_ci95_ms"]
        hits += lo <= 1.0 <= hi
    assert 0.94 <= hits / 2000 <= 0.99


def test_summarize_fields():
    samples = [float(v) for v in range(1, 101)]  # 1..100
    s = stats.summarize(samples)
    assert s["median_ms"] == 50.5
    assert s["mean_ms"] == 50.5
    assert s["min_ms"] == 1 and s["max_ms"] == 100
    assert s["p5_ms"] == pytest.approx(np.percentile(samples, 5))
    assert s["p90_ms"] == pytest.approx(90.1)
    assert s["p95_ms"] == pytest.approx(95.05)
    assert s["std_ms"] == pytest.approx(np.std(samples, ddof=1))
    assert s["median_ci95_ms"] == [40.0, 61.0]


def test_few_samples_give_full_range_and_a_warning():
    s = stats.summarize([3.0, 1.0, 2.0])
    assert s["median_ci95_ms"] == [1.0, 3.0]
    assert any("only 3 timed runs" in w for w in stats.warnings_for([3.0, 1.0, 2.0]))


def test_steady_samples_have_no_warnings():
    rng = np.random.default_rng(0)
    assert stats.warnings_for((10 + rng.normal(0, 0.1, 300)).tolist()) == []


def test_noisy_samples_warn_about_cv():
    rng = np.random.default_rng(0)
    found = stats.warnings_for((10 + rng.normal(0, 2, 300)).tolist())
    assert any(w.startswith("high variation") for w in found)


def test_slowdown_within_a_run_warns_about_throttling():
    samples = [10.0] * 100 + [10.3] * 100 + [10.8] * 100  # CV ~3 %: only the drift shows
    found = stats.warnings_for(samples)
    assert len(found) == 1 and found[0].startswith("slowing down")
    assert stats.warnings_for(samples[::-1]) == []  # getting faster is not throttling
