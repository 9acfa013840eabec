"""Version analytics: the figures of every serving version of a model, in ONE Prometheus query (pure).

Each figure is a `sum by (version)` (or a histogram quantile by version) over the model's Rollouts,
tagged with a `figure` label by label_replace, and the figures are joined with `or`. Their label
sets differ in `figure`, so `or` keeps every series: one request per model per refresh returns
every figure of every version, however many versions serve. The results fold into one
`Performance` per ModelVersion, with the sample sizes its ratios rest on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from modelrollout.analysis.templates import check_label_value, prometheus_duration
from modelrollout.api.common import format_time, parse_time, version_slug
from modelrollout.api.modelversion import ModelVersion, Performance

# Figure label value -> PromQL over the selector `{sel}` and the window `{w}`.
_FIGURES: dict[str, str] = {
    "requests": "sum by (version) (increase(model_requests_total{{{sel}}}[{w}]))",
    "errors": 'sum by (version) (increase(model_requests_total{{{sel},outcome="error"}}[{w}]))',
    "p50": "histogram_quantile(0.5, sum by (version, le) (rate(model_request_duration_seconds_bucket{{{sel}}}[{w}])))",
    "p95": "histogram_quantile(0.95, sum by (version, le) (rate(model_request_duration_seconds_bucket{{{sel}}}[{w}])))",
    "qualitySum": "sum by (version) (increase(model_quality_score_sum{{{sel}}}[{w}]))",
    "qualityCount": "sum by (version) (increase(model_quality_score_count{{{sel}}}[{w}]))",
    "cost": "sum by (version) (increase(model_cost_usd_total{{{sel}}}[{w}]))",
    "tokens": "sum by (version) (increase(model_tokens_total{{{sel}}}[{w}]))",
}
FIGURES = tuple(_FIGURES)
QUERIES_PER_REFRESH = 1


@dataclass(frozen=True)
class Sample:
    """One series of the answer: which figure, which version label, what value."""

    figure: str
    version: str
    value: float


def performance_query(namespace: str, rollouts: Iterable[str], window: str) -> str:
    """The one query of a model's refresh: every figure of every version its Rollouts serve.

    Names are checked as label values first (the same rule as query templates), so nothing here
    can change what the query means.
    """
    names = sorted({check_label_value("rollout", name) for name in rollouts})
    if not names:
        raise ValueError("a performance query needs at least one Rollout")
    selector = f'namespace="{check_label_value("namespace", namespace)}",rollout=~"{"|".join(names)}"'
    w = prometheus_duration(window)
    parts = [
        f'label_replace({template.format(sel=selector, w=w)}, "figure", "{figure}", "", "")'
        for figure, template in _FIGURES.items()
    ]
    return " or ".join(parts)


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def fold_performance(
    samples: Iterable[Sample], versions: Mapping[str, ModelVersion], model: str, window: str, now: datetime
) -> dict[str, Performance]:
    """ModelVersion name -> its figures, for the versions of `model` that served requests in the window.

    A version without requests in the window is left out (its last figures stay as they were). No
    error series with requests means no errors: many servers create the error series only at the
    first error.
    """
    by_label: dict[str, dict[str, float]] = {}
    for sample in samples:
        by_label.setdefault(sample.version, {})[sample.figure] = sample.value
    result: dict[str, Performance] = {}
    for name, version in versions.items():
        if version.spec.model != model:
            continue
        figures = by_label.get(version_slug(version.spec.version))
        requests = _finite(figures.get("requests")) if figures else None
        if figures is None or not requests or requests <= 0:
            continue
        errors = _finite(figures.get("errors")) or 0.0
        quality_count = _finite(figures.get("qualityCount"))
        p50, p95 = _finite(figures.get("p50")), _finite(figures.get("p95"))
        result[name] = Performance(
            requests=round(requests, 1),
            error_rate=errors / requests,
            latency_p50_ms=None if p50 is None else p50 * 1000,
            latency_p95_ms=None if p95 is None else p95 * 1000,
            quality_score=_finite(_ratio(figures.get("qualitySum"), quality_count)),
            quality_samples=None if quality_count is None else round(quality_count, 1),
            cost_per_request=_finite(_ratio(figures.get("cost"), requests)),
            tokens_per_request=_finite(_ratio(figures.get("tokens"), requests)),
            window=window,
            observed_at=format_time(now),
        )
    return result


# Figures that moved less than this (relative) are not written again: at steady traffic every
# refresh would otherwise patch every serving version (a write and a watch event each). Sample
# sizes are left out of the comparison: in a window still filling they grow at every refresh.
MATERIAL_CHANGE = 0.05
# ...but observedAt (and the sample sizes) are never older than this many refresh intervals.
MAX_AGE_INTERVALS = 10

COMPARED_FIGURES = (
    "error_rate",
    "latency_p50_ms",
    "latency_p95_ms",
    "quality_score",
    "cost_per_request",
    "tokens_per_request",
)


def worth_writing(current: Performance | None, new: Performance, interval_seconds: float, now: datetime) -> bool:
    """Whether `new` says something `current` (what status holds) does not, or `current` is stale."""
    if current is None or current.observed_at is None or current.window != new.window:
        return True
    if (now - parse_time(current.observed_at)).total_seconds() >= MAX_AGE_INTERVALS * interval_seconds:
        return True
    for name in COMPARED_FIGURES:
        old, fresh = getattr(current, name), getattr(new, name)
        if (old is None) != (fresh is None):
            return True
        if old is not None and fresh is not None and not math.isclose(old, fresh, rel_tol=MATERIAL_CHANGE):
            return True
    return False
