"""Verdicts from evidence: a measurement with its sample size and interval, judged against a threshold.

`fail` only when the interval lies wholly on the wrong side of the threshold (or, for rates, when the
change detector's e-value crosses its bound); `pass` only when it lies wholly on the right side;
otherwise `collecting`: keep measuring. Each metric spends its share `alpha` of the Rollout's error
budget: rates give half to the confidence sequence and half to the change detector; a comparison
with the stable version gives half to each version's confidence sequence (a union bound).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from modelrollout.analysis import stats
from modelrollout.analysis.evaluate import fmt
from modelrollout.analysis.metrics import ResolvedMetric, Threshold
from modelrollout.api.common import format_time
from modelrollout.api.presets import MEAN_MIN_SAMPLES, BucketsShape, CountsShape, MeanShape
from modelrollout.api.rollout import Measurement, Verdict


@dataclass(frozen=True)
class Counts:
    """Bad events among trials since the version got traffic."""

    bad: float
    trials: float


@dataclass(frozen=True)
class Buckets:
    """Cumulative histogram buckets (upper bound, count), sorted, the last one +Inf."""

    buckets: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Sums:
    """Sum and count of observed values."""

    total: float
    count: float


Evidence = Counts | Buckets | Sums


@dataclass(frozen=True)
class DetectorState:
    """The change detector of one rate metric: looks taken, counts at the last look, log e-values."""

    looks: int = 0
    bad: float = 0.0
    trials: float = 0.0
    log_values: tuple[float, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Estimate:
    """A point estimate, its interval and its sample size."""

    value: float
    interval: stats.Interval
    samples: int


def percent(alpha: float) -> str:
    return f"{fmt(100 * (1 - alpha))} %"


def estimate(resolved: ResolvedMetric, evidence: Evidence, alpha: float) -> Estimate:
    """What `evidence` says about the metric's value, with a (1 - alpha) confidence sequence."""
    if isinstance(evidence, Counts):
        trials = max(0, round(evidence.trials))
        bad = min(trials, max(0, round(evidence.bad)))
        value = bad / trials if trials else math.nan
        return Estimate(value, stats.proportion_interval(bad, trials, alpha), trials)
    if isinstance(evidence, Buckets):
        quantile = resolved.shape.quantile if isinstance(resolved.shape, BucketsShape) else 0.95
        value, interval, samples = stats.quantile_interval(evidence.buckets, quantile, alpha)
        return Estimate(value, interval, samples)
    samples = max(0, round(evidence.count))
    value = evidence.total / evidence.count if evidence.count > 0 else math.nan
    shape = resolved.shape
    if isinstance(shape, MeanShape) and shape.low is not None and shape.high is not None:
        return Estimate(
            value, stats.bounded_mean_interval(evidence.total, evidence.count, shape.low, shape.high, alpha), samples
        )
    # Nothing bounds one value: no interval, only the point estimate (see MeanShape).
    return Estimate(value, stats.Interval(value, value), samples)


def _ratio_interval(candidate: stats.Interval, baseline: stats.Interval) -> stats.Interval:
    lower = candidate.lower / baseline.upper if baseline.upper > 0 and math.isfinite(baseline.upper) else 0.0
    upper = candidate.upper / baseline.lower if baseline.lower > 0 else math.inf
    return stats.Interval(lower, upper)


def _side(threshold: Threshold, interval: stats.Interval) -> Verdict:
    """pass/fail when the interval is wholly on one side of the limit, else collecting."""
    if threshold.kind in ("max", "maxRatioToBaseline"):
        if interval.lower > threshold.limit:
            return "fail"
        return "pass" if interval.upper <= threshold.limit else "collecting"
    if interval.upper < threshold.limit:
        return "fail"
    return "pass" if interval.lower >= threshold.limit else "collecting"


def _bounds(interval: stats.Interval) -> str:
    upper = "unbounded" if math.isinf(interval.upper) else fmt(interval.upper)
    return f"{fmt(interval.lower)} to {upper}"


def _unit(resolved: ResolvedMetric) -> str:
    shape = resolved.shape
    if isinstance(shape, CountsShape):
        return "events" if resolved.preset is None else "requests"
    return "samples" if isinstance(shape, BucketsShape | MeanShape) and resolved.preset is None else "requests"


@lru_cache(maxsize=1024)
def min_trials(threshold: float, alpha: float) -> int:
    """Fewest trials with no bad event for which the confidence sequence can lie below `threshold`."""
    if not 0 < threshold < 1:
        return 1
    low, high = 1, 1
    while not stats.proportion_excluded(0, high, threshold, alpha):
        low, high = high, high * 2
        if high > 10**9:
            return high
    while low < high:
        middle = (low + high) // 2
        if stats.proportion_excluded(0, middle, threshold, alpha):
            high = middle
        else:
            low = middle + 1
    return high


@dataclass
class _Judgement:
    verdict: Verdict
    reason: str
    interval: stats.Interval | None = None


def _unbounded_mean(resolved: ResolvedMetric) -> bool:
    shape = resolved.shape
    return isinstance(shape, MeanShape) and (shape.low is None or shape.high is None)


def judge(
    resolved: ResolvedMetric,
    evidence: Evidence,
    baseline: Evidence | None,
    state: DetectorState | None,
    now: datetime,
    *,
    version: str,
) -> tuple[Measurement, DetectorState | None]:
    """The verdict on `evidence` (and the stable version's, for ratio thresholds), and the next detector
    state for rate metrics. The caller has checked that the evidence is not empty."""
    name = resolved.name
    unit = _unit(resolved)
    rate = isinstance(resolved.shape, CountsShape)
    one_sample_alpha = resolved.alpha / 2 if rate or resolved.needs_baseline else resolved.alpha
    # With a baseline each version's interval gets half the metric's share (a union bound).
    own = estimate(resolved, evidence, one_sample_alpha)
    base: Estimate | None = None
    next_state = state
    e_value: float | None = None
    judgements: list[_Judgement] = []
    for threshold in resolved.thresholds:
        label = f"{threshold.kind} {threshold.limit:g}"
        if threshold.needs_baseline:
            if baseline is None:
                judgements.append(_Judgement("collecting", f"{name}: no evidence from the stable version yet"))
                continue
            mine = own  # at resolved.alpha / 2 already
            base = estimate(resolved, baseline, resolved.alpha / 2)
            if _unbounded_mean(resolved) and min(mine.samples, base.samples) < MEAN_MIN_SAMPLES:
                judgements.append(
                    _Judgement(
                        "collecting",
                        f"{name}: collecting evidence: {min(mine.samples, base.samples)} of ≥ {MEAN_MIN_SAMPLES} "
                        f"{unit} on each version",
                    )
                )
                continue
            if not (base.value > 0 and math.isfinite(base.value)):
                judgements.append(
                    _Judgement(
                        "collecting", f"{name}: baseline is {fmt(base.value)}, a ratio needs a positive baseline"
                    )
                )
                continue
            ratio = _ratio_interval(mine.interval, base.interval)
            verdict = _side(threshold, ratio)
            side = "above" if threshold.kind == "maxRatioToBaseline" else "below"
            words = {"fail": f"is {side}", "pass": "is within", "collecting": "still includes"}[verdict]
            evidence_words = (
                f"point estimates, n={mine.samples}/{base.samples}"
                if _unbounded_mean(resolved)
                else f"ratio {_bounds(ratio)} ({percent(resolved.alpha)}, n={mine.samples}/{base.samples})"
            )
            reason = (
                f"{name}={fmt(mine.value)} is {fmt(mine.value / base.value)}x baseline {fmt(base.value)}; "
                f"{evidence_words} {words} {label}"
            )
            if verdict == "collecting":
                reason = f"{name}: collecting evidence: {reason[len(name) + 2 :]}"
            judgements.append(_Judgement(verdict, reason, ratio))
            continue

        if _unbounded_mean(resolved):
            if own.samples < MEAN_MIN_SAMPLES:
                judgements.append(
                    _Judgement(
                        "collecting", f"{name}: collecting evidence: {own.samples} of ≥ {MEAN_MIN_SAMPLES} {unit}"
                    )
                )
                continue
            verdict = _side(threshold, own.interval)
            words = (
                "above" if verdict == "fail" and threshold.kind == "max" else "below" if verdict == "fail" else "within"
            )
            judgements.append(
                _Judgement(verdict, f"{name}={fmt(own.value)} (point estimate, n={own.samples}) {words} {label}")
            )
            continue

        verdict = _side(threshold, own.interval)
        if rate and isinstance(evidence, Counts) and 0 < threshold.limit < 1:
            next_state = _detect(state, evidence, threshold)
            e_value = stats.detector_e_value(next_state.log_values)
            if verdict != "fail" and e_value >= 2 / resolved.alpha:
                judgements.append(
                    _Judgement(
                        "fail",
                        f"{name}={fmt(own.value)} (n={own.samples}) rose past {label}: change detector "
                        f"e-value {fmt(e_value)} ≥ {fmt(2 / resolved.alpha)}",
                        own.interval,
                    )
                )
                continue
        side_word = "above" if threshold.kind == "max" else "below"
        described = f"{fmt(own.value)} ({_bounds(own.interval)}, {percent(one_sample_alpha)}, n={own.samples})"
        if verdict == "fail":
            reason = f"{name}={described} is {side_word} {label}"
        elif verdict == "pass":
            reason = f"{name}={described} is within {label}"
        else:
            reason = f"{name}: collecting evidence: {described} still includes {label}"
            if rate and threshold.kind == "max":
                needed = min_trials(threshold.limit, one_sample_alpha)
                if own.samples < needed:
                    reason = f"{name}: collecting evidence: {own.samples} of ≥ {needed} {unit}; {described}"
        judgements.append(_Judgement(verdict, reason, own.interval))

    failures = [j for j in judgements if j.verdict == "fail"]
    undecided = [j for j in judgements if j.verdict == "collecting"]
    chosen = failures or undecided or judgements
    overall: Verdict = "fail" if failures else ("collecting" if undecided else "pass")
    interval = chosen[0].interval if chosen else None
    measurement = Measurement(
        metric=name,
        version=version,
        value=own.value if math.isfinite(own.value) else None,
        samples=own.samples,
        lower=interval.lower if interval and math.isfinite(interval.lower) else None,
        upper=interval.upper if interval and math.isfinite(interval.upper) else None,
        baseline=base.value if base is not None and math.isfinite(base.value) else None,
        baseline_samples=base.samples if base is not None else None,
        e_value=e_value,
        verdict=overall,
        message="; ".join(j.reason for j in chosen),
        at=format_time(now),
    )
    return measurement, next_state


def _detect(state: DetectorState | None, evidence: Counts, threshold: Threshold) -> DetectorState:
    """Feed the events since the last look to the change detector."""
    state = state or DetectorState()
    bad = max(evidence.bad, state.bad)
    trials = max(evidence.trials, state.trials)
    new_trials = round(trials - state.trials)
    new_bad = min(new_trials, max(0, round(bad - state.bad)))
    if new_trials <= 0:
        return state
    look = state.looks + 1
    log_values = stats.detector_update(
        state.log_values, look, new_bad, new_trials, threshold.limit, upper=threshold.kind == "max"
    )
    # Counts keep what was fed (rounded), so fractions from increase() are not lost between looks.
    return DetectorState(
        looks=look, bad=state.bad + new_bad, trials=state.trials + new_trials, log_values=tuple(log_values)
    )
