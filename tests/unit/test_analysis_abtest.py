"""A/B statistics: the always-valid comparison, its error rate under repeated looks, and the decision."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom

from modelrollout.analysis.abtest import (
    MetricPlan,
    Sample,
    compare,
    decide,
    fixed_horizon_samples,
    mean_sample,
    needs_in_words,
    per_test_alpha,
    proportion_sample,
    samples_for_power,
)

QUALITY = MetricPlan("quality", "higher", 0.02)
ERRORS = MetricPlan("errors", "lower", 0.01, guardrail=True)


def simulate_aa(seed: int, runs: int, looks: int, per_look: int, rate: float, alpha: float) -> int:
    """Runs of an A/A test looked at after every batch that ever declared a difference."""
    rng = np.random.default_rng(seed)
    false_positives = 0
    for _ in range(runs):
        a = np.cumsum(rng.binomial(per_look, rate, size=looks))
        b = np.cumsum(rng.binomial(per_look, rate, size=looks))
        for look in range(looks):
            n = per_look * (look + 1)
            result = compare(proportion_sample(a[look], n), proportion_sample(b[look], n), 0.02, alpha)
            if result is not None and result.significant("higher") is not None:
                false_positives += 1
                break
    return false_positives


def test_aa_false_positive_rate_stays_within_alpha_under_repeated_looks() -> None:
    runs, alpha = 2000, 0.05
    hits = simulate_aa(seed=7, runs=runs, looks=25, per_look=400, rate=0.3, alpha=alpha)
    # The guarantee is "at most alpha"; allow the binomial noise of `runs` draws above it.
    assert hits <= binom.ppf(0.999, runs, alpha), f"{hits}/{runs} A/A runs declared a difference"


def test_naive_repeated_looks_would_fail_the_same_check() -> None:
    """The check above has teeth: a fixed-horizon z-test looked at 40 times exceeds alpha by far."""
    rng = np.random.default_rng(7)
    runs, looks, per_look, rate = 500, 40, 250, 0.3
    hits = 0
    for _ in range(runs):
        a = np.cumsum(rng.binomial(per_look, rate, size=looks))
        b = np.cumsum(rng.binomial(per_look, rate, size=looks))
        n = per_look * np.arange(1, looks + 1)
        pa, pb = a / n, b / n
        z = (pb - pa) / np.sqrt((pa * (1 - pa) + pb * (1 - pb)) / n)
        hits += bool(np.any(np.abs(z) > 1.96))
    assert hits > binom.ppf(0.999, runs, 0.05)


def test_a_real_lift_is_detected_and_its_interval_covers_it() -> None:
    control = proportion_sample(3000, 10000)
    challenger = proportion_sample(3300, 10000)
    result = compare(control, challenger, 0.02, 0.05)
    assert result is not None
    assert result.significant("higher") == "better"
    assert result.significant("lower") == "worse"
    assert result.lower < 0.03 < result.upper
    assert result.p_value < 0.05 and result.e_value > 20


def test_no_data_is_no_comparison() -> None:
    assert compare(proportion_sample(0, 0), proportion_sample(5, 100), 0.02, 0.05) is None


def test_mean_sample_variance_from_buckets_and_from_bounds() -> None:
    buckets = [(0.5, 50.0), (1.0, 100.0), (math.inf, 100.0)]
    sample = mean_sample(50.0, 100.0, buckets=buckets)
    assert sample.mean == 0.5 and sample.variance == pytest.approx(0.0625)
    bounded = mean_sample(75.0, 100.0, bounds=(0.0, 1.0))
    assert bounded.variance == pytest.approx(0.75 * 0.25)
    assert math.isnan(mean_sample(75.0, 100.0).variance)


def test_sequential_sample_size_exceeds_fixed_horizon_and_is_shown_in_words() -> None:
    variance = 0.3 * 0.7
    sequential = samples_for_power(variance, 0.02, 0.05, 0.8)
    fixed = fixed_horizon_samples(variance, 0.02, 0.05, 0.8)
    assert sequential is not None and sequential > fixed > 8000
    samples = {"quality": {"a": proportion_sample(300, 1000), "b": proportion_sample(300, 1000)}}
    verdict = decide([QUALITY], "a", ["a", "b"], samples, alpha=0.05, power=0.8, min_samples=100, expired=False)
    words = needs_in_words(verdict.results[0], 0.8)
    assert words.startswith("needs ≈ ") and "per variant to detect a 0.02 change in quality at 80% power" in words


def _samples(quality: dict[str, tuple[int, int]], errors: dict[str, tuple[int, int]]) -> dict[str, dict[str, Sample]]:
    return {
        "quality": {v: proportion_sample(x, n) for v, (x, n) in quality.items()},
        "errors": {v: proportion_sample(x, n) for v, (x, n) in errors.items()},
    }


def _decide(
    samples: dict[str, dict[str, Sample]], variants: list[str], *, expired: bool = False, min_samples: int = 500
):  # type: ignore[no-untyped-def]
    return decide(
        [QUALITY, ERRORS], "a", variants, samples, alpha=0.05, power=0.8, min_samples=min_samples, expired=expired
    )


def test_upgrade_when_the_primary_metric_is_better_and_no_guardrail_worse() -> None:
    verdict = _decide(
        _samples({"a": (3000, 10000), "b": (3600, 10000)}, {"a": (100, 10000), "b": (100, 10000)}), ["a", "b"]
    )
    assert (verdict.decision, verdict.winner, verdict.confidence) == ("upgrade", "b", "high")


def test_a_significantly_worse_guardrail_blocks_upgrade_and_means_keep() -> None:
    verdict = _decide(
        _samples({"a": (3000, 10000), "b": (3600, 10000)}, {"a": (100, 10000), "b": (900, 10000)}), ["a", "b"]
    )
    assert verdict.decision == "keep" and verdict.winner == "a"
    assert "guardrail errors" in verdict.reason and verdict.losers == ("b",)


def test_nothing_is_decided_before_min_samples() -> None:
    verdict = _decide(_samples({"a": (30, 100), "b": (90, 100)}, {"a": (1, 100), "b": (1, 100)}), ["a", "b"])
    assert verdict.decision is None and "500 samples" in verdict.reason


def test_expired_without_a_difference_is_inconclusive_with_nothing_to_promote() -> None:
    verdict = _decide(
        _samples({"a": (300, 1000), "b": (302, 1000)}, {"a": (10, 1000), "b": (10, 1000)}), ["a", "b"], expired=True
    )
    assert (verdict.decision, verdict.winner, verdict.confidence) == ("inconclusive", None, "low")
    assert "no significant difference" in verdict.reason


def test_three_variants_pick_the_best_and_share_alpha() -> None:
    samples = _samples(
        {"a": (3000, 10000), "b": (3400, 10000), "c": (3800, 10000)},
        {"a": (100, 10000), "b": (100, 10000), "c": (100, 10000)},
    )
    verdict = _decide(samples, ["a", "b", "c"])
    assert verdict.decision == "upgrade" and verdict.winner == "c"
    assert verdict.alpha_per_test == per_test_alpha(0.05, 2, 2) == 0.0125


def test_a_guardrail_not_yet_shown_harmless_holds_an_upgrade() -> None:
    """Better quality, but an error rate that looks worse without being significant yet: no upgrade."""
    samples = _samples({"a": (3000, 10000), "b": (3600, 10000)}, {"a": (10, 1000), "b": (25, 1000)})
    verdict = _decide(samples, ["a", "b"])
    assert verdict.decision is None
    assert "guardrail errors is not yet shown harmless" in verdict.reason
    missing = {"quality": samples["quality"], "errors": {"a": samples["errors"]["a"]}}
    assert _decide(missing, ["a", "b"]).decision is None, "a guardrail without data never lets an upgrade through"
