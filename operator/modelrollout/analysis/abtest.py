"""A/B statistics: always-valid two-sample comparisons and the decision they support.

Every comparison of a challenger with the control is a mixture sequential probability ratio test
(mSPRT; Johari, Koomen, Pekelis & Walsh, "Always Valid Inference", Operations Research 2022), the
method behind Optimizely's stats engine. For the difference of means d = mean_B - mean_A with
variance V = var_A / n_A + var_B / n_B and a normal mixture N(0, tau^2) over the true difference:

    Lambda = sqrt(V / (V + tau^2)) * exp(tau^2 * d^2 / (2 V (V + tau^2)))

Lambda is an e-value: under "no difference" P(Lambda ever reaches 1 / alpha) <= alpha, however often
it is looked at (Ville's inequality), so stopping the first time it crosses is safe. The always-valid
p-value is 1 / Lambda (its running minimum is kept in status); the matching confidence sequence is

    d +- sqrt(2 V (V + tau^2) / tau^2 * (log(1 / alpha) + log((V + tau^2) / V) / 2)).

tau is the metric's minimum effect of interest: the test is most powerful for effects of that size.
Variances are plug-in estimates (p(1 - p) for proportions with one pseudo-count each side, so a
variant with no events does not look certain), which makes the guarantee asymptotic; the
minSamplesPerVariant floor keeps looks out of the small-sample range where that matters.

Several metrics and several challengers share the budget alpha by Bonferroni: each comparison gets
alpha / (metrics x challengers).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from scipy.optimize import brentq
from scipy.stats import norm

Better = Literal["higher", "lower"]
Decision = Literal["upgrade", "keep", "inconclusive"]
Confidence = Literal["high", "medium", "low"]

# Below this, a variance estimate is taken as this (a constant metric would otherwise divide by zero).
_VARIANCE_FLOOR = 1e-12


@dataclass(frozen=True)
class Sample:
    """What one variant showed on one metric: mean, per-observation variance and sample size."""

    mean: float
    variance: float
    n: float

    @property
    def valid(self) -> bool:
        return self.n > 0 and math.isfinite(self.mean) and math.isfinite(self.variance)


def proportion_sample(events: float, trials: float) -> Sample:
    """A proportion (events among trials); variance p~(1 - p~) with p~ = (events + 1) / (trials + 2)."""
    trials = max(0.0, trials)
    events = min(max(0.0, events), trials)
    if trials <= 0:
        return Sample(math.nan, math.nan, 0.0)
    smoothed = (events + 1) / (trials + 2)
    return Sample(events / trials, smoothed * (1 - smoothed), trials)


def mean_sample(
    total: float,
    count: float,
    *,
    buckets: Sequence[tuple[float, float]] = (),
    bounds: tuple[float, float] | None = None,
) -> Sample:
    """A continuous metric from its sum and count.

    The variance comes from histogram buckets (each bucket's observations at its midpoint) when given;
    else, for values known to lie in `bounds`, from the Bhatia-Davis bound (hi - mean)(mean - lo), the
    largest variance any distribution with that mean and range can have. Unknown otherwise (NaN).
    """
    if count <= 0:
        return Sample(math.nan, math.nan, 0.0)
    mean = total / count
    variance = math.nan
    if buckets:
        variance = bucket_variance(buckets, mean)
    if not math.isfinite(variance) and bounds is not None:
        low, high = bounds
        clipped = min(max(mean, low), high)
        variance = (high - clipped) * (clipped - low)
    return Sample(mean, variance, count)


def bucket_variance(buckets: Sequence[tuple[float, float]], mean: float) -> float:
    """Variance of the observations in cumulative buckets [(le, count)], each at its bucket's midpoint.

    Observations in the +Inf bucket sit at the last finite bound (a lower bound on their spread).
    """
    previous_bound, previous_count = 0.0, 0.0
    weighted, total = 0.0, 0.0
    for bound, count in sorted(buckets):
        in_bucket = count - previous_count
        if in_bucket > 0:
            point = previous_bound if math.isinf(bound) else (previous_bound + bound) / 2
            weighted += in_bucket * (point - mean) ** 2
            total += in_bucket
        if not math.isinf(bound):
            previous_bound = bound
        previous_count = max(previous_count, count)
    return weighted / total if total > 0 else math.nan


# ---------------------------------------------------------------- one comparison


@dataclass(frozen=True)
class Comparison:
    """Challenger minus control on one metric, at one look."""

    effect: float  # mean_B - mean_A
    lower: float
    upper: float
    e_value: float
    p_value: float  # 1 / e_value, at most 1

    def significant(self, better: Better) -> Literal["better", "worse"] | None:
        """Whether the confidence sequence lies wholly on one side of zero, in `better`'s terms."""
        if self.lower > 0:
            return "better" if better == "higher" else "worse"
        if self.upper < 0:
            return "worse" if better == "higher" else "better"
        return None


def _pooled_variance(control: Sample, challenger: Sample) -> float:
    return max(control.variance / control.n + challenger.variance / challenger.n, _VARIANCE_FLOOR)


def log_e_value(difference: float, variance: float, tau: float) -> float:
    """log Lambda for an observed difference whose estimate has `variance`, mixture scale `tau`."""
    tau2 = tau * tau
    return 0.5 * math.log(variance / (variance + tau2)) + tau2 * difference**2 / (2 * variance * (variance + tau2))


def radius(variance: float, tau: float, alpha: float) -> float:
    """Half-width of the (1 - alpha) confidence sequence around the observed difference."""
    tau2 = tau * tau
    return math.sqrt(
        2 * variance * (variance + tau2) / tau2 * (math.log(1 / alpha) + 0.5 * math.log((variance + tau2) / variance))
    )


def compare(control: Sample, challenger: Sample, tau: float, alpha: float) -> Comparison | None:
    """The always-valid comparison, or None while either side has no usable data."""
    if not (control.valid and challenger.valid) or tau <= 0:
        return None
    variance = _pooled_variance(control, challenger)
    effect = challenger.mean - control.mean
    half = radius(variance, tau, alpha)
    log_e = log_e_value(effect, variance, tau)
    e_value = math.exp(min(log_e, 700.0))
    return Comparison(
        effect=effect,
        lower=effect - half,
        upper=effect + half,
        e_value=e_value,
        p_value=min(1.0, 1.0 / e_value),
    )


def mean_interval(sample: Sample, tau: float, alpha: float) -> tuple[float, float] | None:
    """A (1 - alpha) confidence sequence for one variant's mean (same mixture, one sample)."""
    if not sample.valid:
        return None
    variance = max(sample.variance / sample.n, _VARIANCE_FLOOR)
    half = radius(variance, tau, alpha)
    return sample.mean - half, sample.mean + half


# ---------------------------------------------------------------- planning


def samples_for_power(variance: float, tau: float, alpha: float, power: float, *, limit: float = 1e9) -> float | None:
    """Samples per variant after which an effect of size `tau` is detected with probability `power`.

    The sequential test has detected the effect by n (at the latest) when the estimate exceeds the
    boundary: tau - radius(V_n) >= z_power * sqrt(V_n) with V_n = 2 variance / n. Solved for n; None
    when the variance is unknown or more than `limit` samples would be needed.
    """
    if not math.isfinite(variance) or variance <= 0 or tau <= 0:
        return None
    z = float(norm.ppf(power))

    def shortfall(n: float) -> float:
        v = 2 * variance / n
        return tau - radius(v, tau, alpha) - z * math.sqrt(v)

    if shortfall(limit) < 0:
        return None
    low = 2.0
    if shortfall(low) >= 0:
        return low
    return float(brentq(shortfall, low, limit))


@functools.lru_cache(maxsize=1024)
def _cached_samples_for_power(variance: float, tau: float, alpha: float, power: float) -> float | None:
    return samples_for_power(variance, tau, alpha, power)


def fixed_horizon_samples(variance: float, tau: float, alpha: float, power: float) -> float:
    """Samples per variant a single two-sided z-test at level alpha needs for `power` at effect tau."""
    z = float(norm.ppf(1 - alpha / 2) + norm.ppf(power))
    return 2 * variance * z * z / (tau * tau)


# ---------------------------------------------------------------- the decision


@dataclass(frozen=True)
class MetricPlan:
    """One compared metric: which direction is better, its effect of interest, whether it is a guardrail."""

    name: str
    better: Better
    min_effect: float
    guardrail: bool = False


@dataclass(frozen=True)
class MetricResult:
    """One metric's estimates for every variant and each challenger's comparison with the control."""

    metric: MetricPlan
    samples: dict[str, Sample]
    comparisons: dict[str, Comparison]  # by challenger
    intervals: dict[str, tuple[float, float]]  # by variant
    needed: float | None  # samples per variant for the requested power


@dataclass(frozen=True)
class Verdict:
    """The answer at one look. `decision` None: keep collecting."""

    decision: Decision | None
    confidence: Confidence | None
    winner: str | None
    reason: str
    results: tuple[MetricResult, ...]
    alpha_per_test: float
    # Challengers that are significantly worse than the control (on a primary metric or a guardrail).
    losers: tuple[str, ...] = ()


def per_test_alpha(alpha: float, metrics: int, challengers: int) -> float:
    """Bonferroni: the budget alpha shared by every (metric, challenger) comparison."""
    return alpha / max(1, metrics * challengers)


def _measure(
    plan: MetricPlan, control: str, samples: dict[str, Sample], alpha_test: float, power: float
) -> MetricResult:
    comparisons: dict[str, Comparison] = {}
    intervals: dict[str, tuple[float, float]] = {}
    base = samples.get(control)
    for variant, sample in samples.items():
        interval = mean_interval(sample, plan.min_effect, alpha_test)
        if interval is not None:
            intervals[variant] = interval
        if variant != control and base is not None:
            comparison = compare(base, sample, plan.min_effect, alpha_test)
            if comparison is not None:
                comparisons[variant] = comparison
    needed = None
    if base is not None and base.valid:
        # Two significant figures of the variance are all a sample-size plan needs, and they let
        # every look of a test share one root-finding.
        variance = float(f"{max(base.variance, _VARIANCE_FLOOR):.2g}")
        needed = _cached_samples_for_power(variance, plan.min_effect, alpha_test, power)
    return MetricResult(plan, dict(samples), comparisons, intervals, needed)


def _confidence(p_value: float, alpha_test: float) -> Confidence:
    return "high" if p_value <= alpha_test / 10 else "medium"


def decide(
    plans: Sequence[MetricPlan],
    control: str,
    variants: Sequence[str],
    samples: dict[str, dict[str, Sample]],
    *,
    alpha: float,
    power: float,
    min_samples: int,
    expired: bool,
) -> Verdict:
    """The decision at one look.

    `samples[metric][variant]`. A challenger wins when some primary metric is significantly better,
    no metric (primary or guardrail) is significantly worse, and every guardrail is shown to be no
    worse than its minimum effect (its confidence sequence excludes a harm that large: a guardrail
    still collecting evidence, or without data, holds the upgrade); it loses when any metric is
    significantly worse. `upgrade` names the winner with the largest primary effect; `keep` when every challenger
    lost; at `expired` (maxDuration) anything else is `inconclusive`: no significant difference.
    Nothing is decided before every variant has `min_samples` observations of every primary metric.
    """
    challengers = [v for v in variants if v != control]
    alpha_test = per_test_alpha(alpha, len(plans), len(challengers))
    results = tuple(_measure(p, control, samples.get(p.name, {}), alpha_test, power) for p in plans)
    primaries = [r for r in results if not r.metric.guardrail]
    enough = bool(primaries) and all(
        r.samples.get(v, Sample(math.nan, math.nan, 0)).n >= min_samples for r in primaries for v in variants
    )

    won: dict[str, tuple[float, float]] = {}  # challenger -> (primary effect in "better" units, p-value)
    lost: dict[str, tuple[str, float]] = {}  # challenger -> (why, p-value)
    held: list[str] = []  # why a challenger that is better cannot win yet
    for challenger in challengers:
        better_on: list[tuple[float, float]] = []
        unclear = [
            r.metric.name
            for r in results
            if r.metric.guardrail and not _within_margin(r.comparisons.get(challenger), r.metric)
        ]
        for result in results:
            comparison = result.comparisons.get(challenger)
            if comparison is None:
                continue
            side = comparison.significant(result.metric.better)
            if side == "worse" and challenger not in lost:
                role = "guardrail " if result.metric.guardrail else ""
                lost[challenger] = (f"{role}{result.metric.name} is significantly worse", comparison.p_value)
            elif side == "better" and not result.metric.guardrail:
                sign = 1.0 if result.metric.better == "higher" else -1.0
                better_on.append((sign * comparison.effect, comparison.p_value))
        if better_on and challenger not in lost:
            if unclear:
                held.append(f"{challenger} is better but guardrail {', '.join(unclear)} is not yet shown harmless")
            else:
                won[challenger] = max(better_on)

    if enough and won:
        winner = max(won, key=lambda c: won[c][0])
        p_value = won[winner][1]
        return Verdict(
            "upgrade",
            _confidence(p_value, alpha_test),
            winner,
            f"{winner} is significantly better than {control} with no metric significantly worse",
            results,
            alpha_test,
            tuple(lost),
        )
    if enough and challengers and all(c in lost for c in challengers):
        p_value = max(p for _, p in lost.values())
        why = "; ".join(f"{c}: {lost[c][0]}" for c in challengers)
        return Verdict("keep", _confidence(p_value, alpha_test), control, why, results, alpha_test, tuple(lost))
    if expired:
        powered = enough and all(
            r.needed is not None and min(s.n for s in r.samples.values()) >= r.needed for r in primaries
        )
        reason = "no significant difference at maxDuration"
        if powered:
            reason += " (every variant had the samples to detect the minimum effect: likely no effect that large)"
        return Verdict("inconclusive", "medium" if powered else "low", None, reason, results, alpha_test, tuple(lost))
    if not enough:
        reason = f"collecting: every variant needs {min_samples} samples of each primary metric first"
    elif held:
        reason = "collecting: " + "; ".join(held)
    else:
        reason = "collecting: no significant difference yet"
    return Verdict(None, None, None, reason, results, alpha_test, tuple(lost))


def _within_margin(comparison: Comparison | None, plan: MetricPlan) -> bool:
    """The guardrail's confidence sequence rules out a harm of `min_effect` or more (non-inferiority)."""
    if comparison is None:
        return False
    if plan.better == "lower":
        return comparison.upper < plan.min_effect
    return comparison.lower > -plan.min_effect


def needs_in_words(result: MetricResult, power: float) -> str:
    """'needs ≈ 4,200 per variant to detect a 0.02 change in qualityScore at 80 % power'."""
    name = result.metric.name
    effect = f"{result.metric.min_effect:g}"
    if result.needed is None:
        return f"{name}: sample size for {power:.0%} power unknown until the control has data"
    return f"needs ≈ {_round(result.needed):,} per variant to detect a {effect} change in {name} at {power:.0%} power"


def _round(value: float) -> int:
    """Two significant figures, as a plan needs, not false precision."""
    if value < 100:
        return math.ceil(value)
    digits = math.floor(math.log10(value)) - 1
    return int(math.ceil(value / 10**digits) * 10**digits)
