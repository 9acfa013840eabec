"""Judge one measured value against a metric's thresholds.

Anything that is not a real number (no data, NaN, infinity, a failed query, a missing baseline for a
ratio) is inconclusive, never a pass: missing evidence must not promote a model.
"""

from __future__ import annotations

import math
from datetime import datetime

from modelrollout.analysis.metrics import ResolvedMetric, Threshold
from modelrollout.api.common import format_time
from modelrollout.api.rollout import Measurement

_KIND_WORDS = {
    "max": ("above", "max"),
    "min": ("below", "min"),
    "maxRatioToBaseline": ("above", "maxRatioToBaseline"),
    "minRatioToBaseline": ("below", "minRatioToBaseline"),
}


def fmt(value: float) -> str:
    """A value for messages: four significant digits, no float noise."""
    return f"{value:.4g}" if abs(value) < 1e-3 or abs(value) >= 1e4 else f"{value:.4f}".rstrip("0").rstrip(".")


def _is_number(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def inconclusive(metric: str, version: str, reason: str, now: datetime) -> Measurement:
    """An inconclusive measurement of `metric` that says why."""
    return Measurement(
        metric=metric,
        version=version,
        verdict="inconclusive",
        message=f"{metric}: {reason}",
        at=format_time(now),
    )


def _breached(threshold: Threshold, observed: float) -> bool:
    if threshold.kind in ("max", "maxRatioToBaseline"):
        return observed > threshold.limit
    return observed < threshold.limit


def evaluate(
    resolved: ResolvedMetric,
    value: float | None,
    baseline: float | None,
    now: datetime,
    *,
    version: str,
    error: str | None = None,
    baseline_error: str | None = None,
) -> Measurement:
    """The verdict of one measurement of `resolved` for `version`.

    `error` / `baseline_error` carry why the query (or the baseline query) returned nothing.
    """
    name = resolved.name
    at = format_time(now)
    if error is not None or value is None:
        return inconclusive(name, version, error or "no data", now)
    stored_value = value if math.isfinite(value) else None  # NaN/Inf are not valid JSON in status
    stored_baseline = baseline if _is_number(baseline) else None
    if not math.isfinite(value):
        return Measurement(
            metric=name,
            version=version,
            value=stored_value,
            baseline=stored_baseline,
            verdict="inconclusive",
            message=f"{name}: value is {value} (no traffic in the window?)",
            at=at,
        )

    failures: list[str] = []
    passes: list[str] = []
    unknown: str | None = None
    for threshold in resolved.thresholds:
        word, label = _KIND_WORDS[threshold.kind]
        if threshold.needs_baseline:
            problem = _baseline_problem(baseline, baseline_error)
            if problem is not None:
                unknown = f"{name}={fmt(value)} cannot be compared to the stable version: {problem}"
                continue
            assert baseline is not None  # _baseline_problem checked it
            ratio = value / baseline
            text = f"{name}={fmt(value)} is {fmt(ratio)}x baseline {fmt(baseline)},"
            breached = _breached(threshold, ratio)
        else:
            text = f"{name}={fmt(value)}"
            breached = _breached(threshold, value)
        if breached:
            failures.append(f"{text} {word} {label} {threshold.limit:g}")
        else:
            passes.append(f"{text} within {label} {threshold.limit:g}")

    # A known breach fails even when another (ratio) bound cannot be checked; otherwise an unchecked
    # bound makes the whole measurement inconclusive, never a pass.
    if unknown is not None and not failures:
        return Measurement(
            metric=name,
            version=version,
            value=value,
            baseline=stored_baseline,
            verdict="inconclusive",
            message=unknown,
            at=at,
        )
    return Measurement(
        metric=name,
        version=version,
        value=value,
        baseline=stored_baseline,
        verdict="fail" if failures else "pass",
        message="; ".join(failures or passes),
        at=at,
    )


def _baseline_problem(baseline: float | None, baseline_error: str | None) -> str | None:
    if baseline_error is not None:
        return baseline_error
    if baseline is None:
        return "no baseline data"
    if not math.isfinite(baseline):
        return f"baseline is {baseline}"
    if baseline <= 0:
        return f"baseline is {fmt(baseline)}, a ratio needs a positive baseline"
    return None
