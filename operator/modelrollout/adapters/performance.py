"""Instant queries answering many series (one per figure and version), for version analytics."""

from __future__ import annotations

from modelrollout.adapters.prometheus import MetricsSource, PrometheusSource, UnavailableSource
from modelrollout.analysis.performance import Sample

_READ_GRACE_SECONDS = 1.0


def query_samples(source: MetricsSource, promql: str) -> tuple[list[Sample], str | None]:
    """The (figure, version, value) series of a performance query, or why there are none; never raises."""
    if isinstance(source, UnavailableSource):
        return [], source.reason
    if not isinstance(source, PrometheusSource):
        return [], f"{type(source).__name__} answers single numbers only"
    try:
        result = source.client.custom_query(
            promql,
            params={"timeout": f"{max(1, round(source.timeout * 1000))}ms"},
            timeout=(source.timeout, source.timeout + _READ_GRACE_SECONDS),
        )
    except Exception as exc:  # a failed refresh is retried next interval; it must not end the loop
        return [], f"performance query to {source.address} failed: {exc!r}"[:300]
    samples: list[Sample] = []
    for series in result if isinstance(result, list) else []:
        labels = series.get("metric") or {}
        value = series.get("value")
        if "figure" not in labels or "version" not in labels or not isinstance(value, list) or len(value) != 2:
            continue
        try:
            samples.append(Sample(figure=labels["figure"], version=labels["version"], value=float(value[1])))
        except (TypeError, ValueError):
            continue
    return samples, None
