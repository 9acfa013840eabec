"""Resolve a metric of a Rollout: its preset merged with what the user overrides, defaults filled in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from modelrollout.analysis.templates import AnalysisConfigError, unknown_variables
from modelrollout.api.common import parse_duration
from modelrollout.api.presets import PRESETS, BucketsShape, CountsShape, EvidenceShape
from modelrollout.api.rollout import AnalysisSpec, MetricSpec, Severity

ThresholdKind = Literal["max", "min", "maxRatioToBaseline", "minRatioToBaseline"]
THRESHOLD_KINDS: tuple[ThresholdKind, ...] = ("max", "min", "maxRatioToBaseline", "minRatioToBaseline")
RATIO_KINDS = frozenset({"maxRatioToBaseline", "minRatioToBaseline"})


@dataclass(frozen=True)
class Threshold:
    """One bound a measurement must respect."""

    kind: ThresholdKind
    limit: float

    @property
    def needs_baseline(self) -> bool:
        return self.kind in RATIO_KINDS


@dataclass(frozen=True)
class ResolvedMetric:
    """Everything needed to measure and judge one metric; durations in seconds."""

    name: str
    query: str
    thresholds: tuple[Threshold, ...]
    severity: Severity
    failure_limit: int
    interval: float
    count: int
    initial_delay: float
    background: bool
    preset: str | None = None
    # The evidence it is judged on; None for a plain query (judged as a point estimate).
    shape: EvidenceShape | None = None
    # Its share of the Rollout's error budget: the chance it ever fails a healthy candidate.
    alpha: float = 0.01

    @property
    def needs_baseline(self) -> bool:
        return any(threshold.needs_baseline for threshold in self.thresholds)


def _thresholds(
    max_: float | None, min_: float | None, max_ratio: float | None, min_ratio: float | None
) -> tuple[Threshold, ...]:
    limits: tuple[float | None, ...] = (max_, min_, max_ratio, min_ratio)
    return tuple(
        Threshold(kind, limit) for kind, limit in zip(THRESHOLD_KINDS, limits, strict=True) if limit is not None
    )


def resolve_metric(metric: MetricSpec, analysis: AnalysisSpec) -> ResolvedMetric:
    """The metric with its preset applied; AnalysisConfigError on an unknown preset, a missing query or
    threshold, or a query using unknown template variables.

    Fields set on the metric override the preset's. Thresholds are overridden as a whole: a user who
    writes `min:` on an errorRate preset gets only that bound, not the preset's `max` as well.
    """
    preset = None
    if metric.preset is not None:
        preset = PRESETS.get(metric.preset)
        if preset is None:
            raise AnalysisConfigError(
                f"metric {metric.name}: unknown preset {metric.preset!r}; known: {', '.join(sorted(PRESETS))}"
            )

    query = metric.query if metric.query is not None else (preset.query if preset else None)
    shape: EvidenceShape | None = preset.shape if preset is not None and metric.query is None else None
    if metric.ratio is not None:
        shape = CountsShape(bad=metric.ratio.numerator, trials=metric.ratio.denominator)
        query = f"({metric.ratio.numerator}) / ({metric.ratio.denominator})"
    if not query or not query.strip():
        raise AnalysisConfigError(f"metric {metric.name}: set a query, a ratio or a preset")
    for text in (query, *(_shape_queries(shape))):
        unknown = unknown_variables(text)
        if unknown:
            raise AnalysisConfigError(
                f"metric {metric.name}: unknown template variable(s) {', '.join(sorted(unknown))}"
            )

    thresholds = _thresholds(metric.max, metric.min, metric.max_ratio_to_baseline, metric.min_ratio_to_baseline)
    if not thresholds and preset is not None:
        thresholds = _thresholds(preset.max, preset.min, preset.max_ratio_to_baseline, preset.min_ratio_to_baseline)
    if not thresholds:
        raise AnalysisConfigError(
            f"metric {metric.name}: set a threshold (max, min, maxRatioToBaseline or minRatioToBaseline)"
        )

    severity: Severity = metric.severity or (preset.severity if preset else "critical")
    try:
        interval = parse_duration(metric.interval or analysis.interval)
        initial_delay = parse_duration(metric.initial_delay) if metric.initial_delay else 0.0
    except ValueError as exc:  # pydantic validates these already; kept for models built without validation
        raise AnalysisConfigError(f"metric {metric.name}: {exc}") from exc
    return ResolvedMetric(
        name=metric.name,
        query=query,
        thresholds=thresholds,
        severity=severity,
        failure_limit=metric.failure_limit if metric.failure_limit is not None else 0,
        interval=interval,
        count=metric.count if metric.count is not None else 1,
        initial_delay=initial_delay,
        background=metric.background,
        preset=metric.preset,
        shape=shape,
        alpha=analysis.error_budget / max(1, critical_metric_count(analysis)),
    )


def _shape_queries(shape: EvidenceShape | None) -> tuple[str, ...]:
    if shape is None:
        return ()
    if isinstance(shape, CountsShape):
        return (shape.bad, shape.trials)
    if isinstance(shape, BucketsShape):
        return (shape.buckets,)
    return (shape.total, shape.count)


def _severity(metric: MetricSpec) -> Severity:
    preset = PRESETS.get(metric.preset) if metric.preset else None
    return metric.severity or (preset.severity if preset else "critical")


def critical_metric_count(analysis: AnalysisSpec) -> int:
    """Critical metrics of the Rollout: each gets an equal share of the error budget (a union bound)."""
    return sum(_severity(metric) == "critical" for metric in analysis.metrics)


def find_metric(analysis: AnalysisSpec, name: str) -> MetricSpec | None:
    """The metric of that name in spec.analysis.metrics."""
    return next((metric for metric in analysis.metrics if metric.name == name), None)
