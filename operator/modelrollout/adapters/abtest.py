"""One look of an A/B test against Prometheus: every variant's counts, then the pure decision."""

from __future__ import annotations

import math
from datetime import datetime

from modelrollout.adapters.prometheus import MetricsSource, PrometheusSource, QueryResult
from modelrollout.analysis.abtest_plan import Observation, ab_plans, look, variant_queries
from modelrollout.analysis.plan import RolloutIdentity
from modelrollout.analysis.templates import AnalysisConfigError
from modelrollout.api.common import parse_duration
from modelrollout.api.rollout import ABTestStatus, AnalysisSpec, RolloutSpec
from modelrollout.core.abtest_scope import ABScope


def query_buckets(source: MetricsSource, promql: str) -> tuple[tuple[float, float], ...]:
    """Cumulative buckets [(le, count)] of a `sum by (le)` query, sorted; empty when unavailable.

    Buckets only sharpen a variance estimate, so any failure here falls back to what the sums say.
    """
    if not isinstance(source, PrometheusSource):
        return ()
    try:
        result = source.client.custom_query(
            promql, params={"timeout": f"{max(1, round(source.timeout * 1000))}ms"}, timeout=source.timeout + 1
        )
    except Exception:  # never let a query crash a reconcile
        return ()
    buckets: list[tuple[float, float]] = []
    for series in result if isinstance(result, list) else []:
        try:
            bound = float(series["metric"]["le"])
            count = float(series["value"][1])
        except (KeyError, TypeError, ValueError, IndexError):
            continue
        if math.isfinite(count):
            buckets.append((bound, count))
    return tuple(sorted(buckets))


def _value(result: QueryResult) -> float | None:
    return result.value if result.value is not None and math.isfinite(result.value) else None


def look_at_ab_test(
    source: MetricsSource,
    spec: RolloutSpec,
    analysis: AnalysisSpec,
    scope: ABScope,
    previous: ABTestStatus,
    now: datetime,
    *,
    identity: RolloutIdentity,
) -> ABTestStatus:
    """Measure every variant in traffic and return the A/B status this look gives."""
    ab_test = spec.strategy.ab_test
    assert ab_test is not None
    try:
        plans = ab_plans(ab_test, analysis)
    except AnalysisConfigError as exc:
        return previous.model_copy(update={"reason": f"cannot measure: {exc}", "last_look": None})
    observations: dict[tuple[str, str], Observation] = {}
    unreachable: str | None = None
    for query in variant_queries(plans, scope, identity, now):
        if unreachable is not None:
            observations[(query.metric, query.version)] = Observation(None, None, error=unreachable)
            continue
        first = source.query_scalar(query.events_or_total)
        second = source.query_scalar(query.trials_or_count)
        for answer in (first, second):
            if answer.connection_failed:
                unreachable = answer.error
        buckets = query_buckets(source, query.buckets) if query.buckets and unreachable is None else ()
        observations[(query.metric, query.version)] = Observation(
            _value(first), _value(second), buckets, error=first.error or second.error
        )
    return look(ab_test, plans, scope, observations, previous, now, max_duration=parse_duration(ab_test.max_duration))
