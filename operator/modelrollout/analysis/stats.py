"""Anytime-valid statistics behind every verdict: confidence sequences and a change detector.

Everything here stays valid however often (and whenever) the operator looks, because each bound comes
from a nonnegative (super)martingale and Ville's inequality: P(sup_n M_n >= 1/alpha) <= alpha. The
README section "How verdicts are decided" states the formulas; the functions cite them by name.

- Proportions (bad events among trials): the uniform-prior beta-binomial mixture confidence sequence.
  p is excluded after x bad of n when (n + 1) * Binomial(n, p).pmf(x) <= alpha.
- Quantiles (histogram buckets): the same sequence applied to "how many requests were at most the true
  quantile", which is Binomial(n, q); its bounds are ranks, read back through the buckets.
- Bounded means (e.g. a 0..1 quality score): the normal-mixture (Robbins) boundary for sub-Gaussian sums.
- Change detection for proportions: a Shiryaev-Roberts-style e-detector, a weighted sum of likelihood
  ratios restarted at every look, so a regression that begins late is seen fast, not diluted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.optimize import brentq
from scipy.special import betaln, xlog1py, xlogy

# Alternatives the change detector mixes over, as multiples of the threshold (divisors for a `min`).
DETECTOR_FACTORS = (1.5, 2.0, 4.0)


@dataclass(frozen=True)
class Interval:
    """A two-sided bound on a quantity; `upper` may be infinite (nothing bounds it yet)."""

    lower: float
    upper: float


# ---------------------------------------------------------------- proportions


def _log_mixture(x: int, n: int, p: float) -> float:
    """log of the beta-binomial mixture martingale at p: M = B(x + 1, n - x + 1) / (p^x (1 - p)^(n - x)),
    which equals 1 / ((n + 1) * Binomial(n, p).pmf(x))."""
    return float(betaln(x + 1, n - x + 1) - xlogy(x, p) - xlog1py(n - x, -p))


def proportion_excluded(x: int, n: int, p: float, alpha: float) -> bool:
    """Whether the confidence sequence after x bad of n trials excludes the proportion p."""
    if n <= 0:
        return False
    return _log_mixture(x, n, p) >= math.log(1 / alpha)


# Pure functions of small integers, asked again and again (every look, every rollout): cached.
@lru_cache(maxsize=65536)
def proportion_interval(x: int, n: int, alpha: float) -> Interval:
    """The (1 - alpha) confidence sequence for a proportion after x bad of n trials."""
    if n <= 0:
        return Interval(0.0, 1.0)
    x = min(max(x, 0), n)
    level = math.log(1 / alpha)
    estimate = x / n

    def excess(p: float) -> float:
        return _log_mixture(x, n, p) - level

    lower = 0.0 if x == 0 or excess(0.0) < 0 else float(brentq(excess, 0.0, estimate, xtol=1e-300, rtol=1e-12))
    upper = 1.0 if x == n or excess(1.0) < 0 else float(brentq(excess, estimate, 1.0, xtol=1e-300, rtol=1e-12))
    return Interval(lower, upper)


@lru_cache(maxsize=65536)
def rank_bounds(n: int, q: float, alpha: float) -> tuple[int, int]:
    """Counts c for which Binomial(n, q) at c is not excluded: the smallest and largest such c."""
    if n <= 0:
        return 0, 0
    spread = 12 * math.sqrt(n * q * (1 - q)) + 12
    lo, hi = max(0, int(n * q - spread)), min(n, int(n * q + spread) + 1)
    counts = np.arange(lo, hi + 1)
    log_mixture = betaln(counts + 1, n - counts + 1) - xlogy(counts, q) - xlog1py(n - counts, -q)
    keep = counts[log_mixture < math.log(1 / alpha)]
    return int(keep.min()), int(keep.max())


# ---------------------------------------------------------------- quantiles from buckets


def histogram_rank_value(buckets: Sequence[tuple[float, float]], rank: float) -> float:
    """The value at `rank` (1..n) read through cumulative buckets [(le, count)], interpolating linearly
    inside a bucket as Prometheus' histogram_quantile does; +Inf when the rank is in the +Inf bucket."""
    previous_bound, previous_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank and count > previous_count:
            if math.isinf(bound):
                return math.inf
            low = previous_bound if previous_bound < bound else 0.0
            return low + (bound - low) * (rank - previous_count) / (count - previous_count)
        previous_bound, previous_count = bound, count
    return math.inf


def quantile_interval(buckets: Sequence[tuple[float, float]], q: float, alpha: float) -> tuple[float, Interval, int]:
    """Point estimate, (1 - alpha) confidence sequence and sample size of the q-quantile.

    The number of requests at most the true quantile is Binomial(n, q); the ranks it can take
    (rank_bounds) bound the quantile: it is above the value at the lowest rank and at most the value
    one past the highest.
    """
    n = round(buckets[-1][1]) if buckets else 0
    if n <= 0:
        return math.nan, Interval(0.0, math.inf), 0
    low_rank, high_rank = rank_bounds(n, q, alpha)
    estimate = histogram_rank_value(buckets, max(q * n, 1e-9))
    lower = histogram_rank_value(buckets, low_rank) if low_rank >= 1 else 0.0
    upper = histogram_rank_value(buckets, high_rank + 1) if high_rank + 1 <= n else math.inf
    return estimate, Interval(lower, upper), n


# ---------------------------------------------------------------- bounded means


def bounded_mean_interval(total: float, n: float, low: float, high: float, alpha: float) -> Interval:
    """(1 - alpha) confidence sequence for the mean of values in [low, high], from their sum and count.

    Normal-mixture boundary for sub-Gaussian sums with variance factor sigma^2 = ((high - low) / 2)^2:
    |S_n - n mu| < sqrt((n sigma^2 + rho) log((n sigma^2 + rho) / (rho alpha^2))), rho = 100 sigma^2
    (tightest near n = 100 and valid at every n).
    """
    if n <= 0:
        return Interval(low, high)
    variance = ((high - low) / 2) ** 2
    rho = 100 * variance
    spread = n * variance + rho
    radius = math.sqrt(spread * math.log(spread / (rho * alpha**2))) / n
    mean = total / n
    return Interval(max(low, mean - radius), min(high, mean + radius))


# ---------------------------------------------------------------- change detector


def detector_alternatives(threshold: float, upper: bool) -> tuple[float, ...]:
    """Proportions the detector weighs against the threshold: above it for a max, below for a min."""
    if upper:
        return tuple(min(threshold * factor, (1 + threshold) / 2) for factor in DETECTOR_FACTORS)
    return tuple(threshold / factor for factor in DETECTOR_FACTORS)


def look_weight(look: int) -> float:
    """Weight of the restart at look k (1, 2, ...): 1 / (k (k + 1)), summing to 1 over all looks."""
    return 1.0 / (look * (look + 1))


def detector_update(
    log_values: Sequence[float], look: int, bad: int, trials: int, threshold: float, upper: bool
) -> list[float]:
    """The detector after look `look` saw `bad` of `trials` new events.

    One statistic per alternative p1: R_k = (R_{k-1} + w_k) * LR_k with
    LR_k = (p1 / p0)^bad ((1 - p1) / (1 - p0))^(trials - bad). Kept as logarithms.
    """
    alternatives = detector_alternatives(threshold, upper)
    previous = list(log_values) if len(log_values) == len(alternatives) else [-math.inf] * len(alternatives)
    updated: list[float] = []
    for log_r, p1 in zip(previous, alternatives, strict=True):
        log_lr = bad * math.log(p1 / threshold) + (trials - bad) * math.log((1 - p1) / (1 - threshold))
        updated.append(float(np.logaddexp(log_r, math.log(look_weight(look)))) + log_lr)
    return updated


def detector_e_value(log_values: Sequence[float]) -> float:
    """The detector's e-value: the average over alternatives (an average of e-processes is one)."""
    if not log_values:
        return 0.0
    log_mean = float(np.logaddexp.reduce(np.asarray(log_values, dtype=float))) - math.log(len(log_values))
    return math.exp(min(700.0, log_mean))
