"""Verdicts from evidence: intervals, the change detector, and their error rates under many looks.

The simulations are seeded and small (seconds), and their bounds are binomial tolerances around the
promised rates, never wall-clock times.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy.stats import binom

from modelrollout.analysis import stats
from modelrollout.analysis.evidence import Buckets, Counts, DetectorState, Sums, judge, min_trials
from modelrollout.analysis.metrics import ResolvedMetric, resolve_metric
from modelrollout.api.rollout import AnalysisSpec, MetricSpec

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
BOUNDS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, math.inf)


def metric(budget: float = 0.01, **fields: object) -> ResolvedMetric:
    spec = MetricSpec.model_validate({"name": "m", **fields})
    return resolve_metric(spec, AnalysisSpec(errorBudget=budget, metrics=[spec]))


def test_the_error_budget_is_shared_by_the_critical_metrics() -> None:
    specs = [
        {"name": "a", "preset": "errorRate"},
        {"name": "b", "preset": "latencyP95"},
        {"name": "c", "preset": "costPerRequest"},  # a warning: it never rolls back
    ]
    analysis = AnalysisSpec.model_validate({"errorBudget": 0.02, "metrics": specs})
    assert resolve_metric(analysis.metrics[0], analysis).alpha == pytest.approx(0.01)


# ------------------------------------------------------------------ the statistics


@pytest.mark.parametrize(("x", "n"), [(0, 10), (3, 400), (40, 400), (400, 400), (1, 5000)])
def test_proportion_interval_ends_where_the_sequence_excludes(x: int, n: int) -> None:
    alpha = 0.005
    interval = stats.proportion_interval(x, n, alpha)
    assert interval.lower <= x / n <= interval.upper
    for end in (interval.lower, interval.upper):
        if 0 < end < 1:
            step = end * 1e-4
            inside, outside = (end + step, end - step) if end == interval.lower else (end - step, end + step)
            assert not stats.proportion_excluded(x, n, inside, alpha)
            assert stats.proportion_excluded(x, n, outside, alpha)


def test_the_mixture_is_one_over_n_plus_one_times_the_binomial_probability() -> None:
    for x, n, p in [(4, 400, 0.05), (0, 10, 0.3), (7, 20, 0.5)]:
        assert stats.proportion_excluded(x, n, p, 0.01) == ((n + 1) * binom.pmf(x, n, p) <= 0.01)


def test_quantile_interval_covers_the_true_p95_from_buckets() -> None:
    rng = np.random.default_rng(3)
    true_p95 = float(np.exp(np.log(0.12) + 1.6448536 * 0.4))  # lognormal(log 0.12, 0.4)
    misses = 0
    for _ in range(300):
        sample = rng.lognormal(np.log(0.12), 0.4, 500)
        counts = np.cumsum(np.bincount(np.searchsorted(BOUNDS, sample), minlength=len(BOUNDS))[: len(BOUNDS)])
        buckets = tuple(zip(BOUNDS, counts.tolist(), strict=True))
        _, interval, n = stats.quantile_interval(buckets, 0.95, 0.05)
        assert n == 500
        misses += not interval.lower <= true_p95 <= interval.upper
    # Anytime-valid at 95 %: at a single look it misses far less than 5 % of the time.
    assert misses <= binom.ppf(0.999, 300, 0.05)


def test_bounded_mean_interval_covers_and_narrows() -> None:
    wide = stats.bounded_mean_interval(85, 100, 0, 1, 0.01)
    narrow = stats.bounded_mean_interval(850, 1000, 0, 1, 0.01)
    assert wide.lower < narrow.lower < 0.85 < narrow.upper < wide.upper


# ------------------------------------------------------------------ verdicts and words


def test_no_errors_among_many_requests_passes_and_says_so() -> None:
    measurement, state = judge(metric(preset="errorRate"), Counts(0, 2000), None, None, NOW, version="v2")
    assert measurement.verdict == "pass" and measurement.samples == 2000 and measurement.value == 0
    assert measurement.upper is not None and measurement.upper < 0.05
    assert "is within max 0.05" in measurement.message
    assert state is not None and state.looks == 1


def test_too_few_requests_are_collecting_evidence_not_no_data() -> None:
    resolved = metric(preset="errorRate")
    measurement, _ = judge(resolved, Counts(0, 38), None, None, NOW, version="v2")
    needed = min_trials(0.05, resolved.alpha / 2)
    assert measurement.verdict == "collecting"
    assert f"collecting evidence: 38 of ≥ {needed} requests" in measurement.message


def test_an_interval_wholly_above_the_max_fails_with_its_interval_in_words() -> None:
    measurement, _ = judge(metric(preset="errorRate"), Counts(93, 1000), None, None, NOW, version="v2")
    assert measurement.verdict == "fail"
    assert measurement.lower is not None and measurement.lower > 0.05
    assert "is above max 0.05" in measurement.message and "n=1000" in measurement.message


def test_latency_against_the_stable_version_uses_both_samples() -> None:
    def buckets(scale: float, n: int) -> Buckets:
        rng = np.random.default_rng(int(scale * 100) + n)
        sample = rng.lognormal(np.log(0.1 * scale), 0.3, n)
        counts = np.cumsum(np.bincount(np.searchsorted(BOUNDS, sample), minlength=len(BOUNDS))[: len(BOUNDS)])
        return Buckets(tuple(zip(BOUNDS, counts.tolist(), strict=True)))

    resolved = metric(preset="latencyP95")
    same, _ = judge(resolved, buckets(1.0, 4000), buckets(1.01, 4000), None, NOW, version="v2")
    slow, _ = judge(resolved, buckets(2.5, 4000), buckets(1.0, 4000), None, NOW, version="v2")
    few, _ = judge(resolved, buckets(1.0, 30), buckets(1.0, 30), None, NOW, version="v2")
    assert (same.verdict, slow.verdict, few.verdict) == ("pass", "fail", "collecting")
    assert slow.baseline_samples == 4000 and "maxRatioToBaseline 1.5" in slow.message


def test_quality_mean_has_an_interval_and_cost_is_a_point_estimate_after_enough_samples() -> None:
    quality, _ = judge(metric(preset="qualityScore"), Sums(300, 500), None, None, NOW, version="v2")
    assert quality.verdict == "fail" and quality.upper is not None and quality.upper < 0.7
    cost = metric(preset="costPerRequest")
    early, _ = judge(cost, Sums(0.6, 100), Sums(0.2, 100), None, NOW, version="v2")
    later, _ = judge(cost, Sums(6, 1000), Sums(2, 1000), None, NOW, version="v2")
    assert early.verdict == "collecting" and later.verdict == "fail" and "point estimates" in later.message


# ------------------------------------------------------------------ many looks


def _rollout(p_of_look: list[float], per_look: int, resolved: ResolvedMetric, rng: np.random.Generator) -> int | None:
    """Look after each batch of `per_look` requests; the look at which it failed, or None."""
    bad = trials = 0
    state: DetectorState | None = None
    for look, p in enumerate(p_of_look, start=1):
        bad += int(rng.binomial(per_look, p))
        trials += per_look
        measurement, state = judge(
            resolved, Counts(bad, trials), None, state, NOW + timedelta(seconds=look), version="v2"
        )
        if measurement.verdict == "fail":
            return look
    return None


def test_false_rollbacks_stay_within_the_budget_however_often_it_looks() -> None:
    # The worst healthy candidate: exactly at the threshold, looked at 60 times. A budget of 10 % keeps
    # the test quick yet able to see a method that spends more than it may.
    budget, rollouts = 0.10, 200
    resolved = metric(budget=budget, preset="errorRate")
    rng = np.random.default_rng(8)
    failed = sum(_rollout([0.05] * 60, 40, resolved, rng) is not None for _ in range(rollouts))
    assert failed <= binom.ppf(0.999, rollouts, budget)
    # The point estimate of the same windows would have rolled back most of them.
    naive = sum(any(rng.binomial(40, 0.05) / 40 > 0.05 for _ in range(60)) for _ in range(rollouts))
    assert naive > rollouts * 0.9


def test_a_clear_regression_is_detected_within_a_few_looks() -> None:
    resolved = metric(preset="errorRate")
    rng = np.random.default_rng(20)
    looks = [_rollout([0.2] * 10, 80, resolved, rng) for _ in range(100)]
    assert all(look is not None and look <= 4 for look in looks)


def test_a_regression_after_a_long_healthy_run_is_seen_fast() -> None:
    # Cumulative counts dilute a late change; the change detector restarted at every look does not.
    resolved = metric(preset="errorRate")
    rng = np.random.default_rng(21)
    looks = [_rollout([0.005] * 100 + [0.2] * 10, 80, resolved, rng) for _ in range(40)]
    # Within six looks of 80 requests (12 s at the demo's traffic), after 100 healthy looks.
    assert all(look is not None and 100 < look <= 106 for look in looks)


def test_a_ratio_metric_is_judged_on_counts_and_a_plain_query_on_its_value() -> None:
    ratio = metric(
        ratio={"numerator": "sum(increase(a[{{range}}]))", "denominator": "sum(increase(b[{{range}}]))"}, min=0.5
    )
    assert ratio.shape is not None and getattr(ratio.shape, "bad", None) == "sum(increase(a[{{range}}]))"
    measurement, _ = judge(ratio, Counts(300, 1000), None, None, NOW, version="v2")
    assert measurement.verdict == "fail" and measurement.samples == 1000
    assert metric(query="vector(1)", max=2).shape is None
