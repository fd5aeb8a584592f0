"""Statistics of latency samples that hold up: order statistics, not a normal-curve guess.

Latency distributions are skewed with a long right tail, so the centre is the median, its 95 %
confidence interval comes from order statistics (distribution-free: only assumes independent
samples), and the warnings flag the two things that make a number untrustworthy — noise (CV) and
drift within the run (thermal throttling, background load).
"""

from __future__ import annotations

import math

import numpy as np

CV_LIMIT = 0.05  # coefficient of variation above which a row gets a warning
DRIFT_LIMIT = 0.05  # last third's median this much above the first third's: drift warning


def median_ci_ranks(n: int, confidence: float = 0.95) -> tuple[int, int]:
    """0-based ranks (lo, hi) of the sorted samples that bracket the median with ``confidence``.

    The interval [x_(l), x_(n-1-l)] misses the median only when at most l samples fall on one
    side, which has probability 2 * P(Binomial(n, 1/2) <= l); the largest l that keeps this
    below 1 - confidence wins. Below 6 samples no such l exists and the range is (0, n-1).
    """
    alpha = 1.0 - confidence
    log_total = math.lgamma(n + 1) + n * math.log(0.5)
    lo, cdf = 0, 0.0
    for i in range(n // 2):
        cdf += math.exp(log_total - math.lgamma(i + 1) - math.lgamma(n - i + 1))  # P(X = i)
        if 2 * cdf > alpha:
            break
        lo = i
    return lo, n - 1 - lo


def summarize(samples_ms: list[float]) -> dict:
    """Median with its 95 % CI, mean, std, min, max and p5/p90/p95 of the timed runs (ms)."""
    x = np.asarray(samples_ms, dtype=np.float64)
    ordered = np.sort(x)
    lo, hi = median_ci_ranks(len(ordered))
    p5, p90, p95 = np.percentile(ordered, [5, 90, 95])
    return {
        "median_ms": float(np.median(ordered)),
        "median_ci95_ms": [float(ordered[lo]), float(ordered[hi])],
        "mean_ms": float(x.mean()),
        "std_ms": float(x.std(ddof=1)) if len(x) > 1 else 0.0,
        "min_ms": float(ordered[0]),
        "max_ms": float(ordered[-1]),
        "p5_ms": float(p5),
        "p90_ms": float(p90),
        "p95_ms": float(p95),
    }


def warnings_for(samples_ms: list[float]) -> list[str]:
    """Human-readable reasons not to trust the numbers: high CV, drift between first and last third."""
    x = np.asarray(samples_ms, dtype=np.float64)
    found = []
    if len(x) > 1 and x.mean() > 0:
        cv = x.std(ddof=1) / x.mean()
        if cv > CV_LIMIT:
            found.append(f"high variation: CV {cv:.1%} > {CV_LIMIT:.0%}")
    third = len(x) // 3
    if third >= 3:
        first, last = np.median(x[:third]), np.median(x[-third:])
        if first > 0 and last > first * (1 + DRIFT_LIMIT):
            found.append(f"slowing down: median of the last third {last / first - 1:.1%} above "
                         f"the first third (thermal throttling or background load?)")
    if len(x) < 6:
        found.append(f"only {len(x)} timed runs: the median's 95% CI is the full range")
    return found
