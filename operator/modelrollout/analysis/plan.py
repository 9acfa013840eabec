"""Which metrics of the current scope are due for a measurement now, with their rendered queries."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from modelrollout.analysis.evidence import DetectorState
from modelrollout.analysis.metrics import ResolvedMetric, find_metric, resolve_metric
from modelrollout.analysis.templates import AnalysisConfigError, TemplateValues, render
from modelrollout.api.common import parse_duration, parse_time
from modelrollout.api.presets import BucketsShape, CountsShape, EvidenceShape, MeanShape
from modelrollout.api.rollout import AnalysisSpec, AnalysisStatus, MetricTally
from modelrollout.core.analysis_contract import AnalysisScope


@dataclass(frozen=True)
class RolloutIdentity:
    """The template variables that do not change during a rollout: {{rollout}}, {{namespace}}, {{model}}."""

    rollout: str
    namespace: str
    model: str


@dataclass(frozen=True)
class MetricQuery:
    """One metric to measure now for `version`.

    Either `error` is set (the metric cannot be measured: unknown metric or preset, invalid value,
    no stable version for a ratio) and the measurement is inconclusive without asking Prometheus, or
    `resolved` and `query` are, plus `baseline_query` when a ratio threshold needs the stable version.
    """

    metric: str
    version: str
    resolved: ResolvedMetric | None = None
    query: str | None = None
    baseline_query: str | None = None
    error: str | None = None
    # The rendered queries of its evidence shape (by the shape's field names), for it and the stable version.
    evidence_queries: dict[str, str] | None = None
    baseline_evidence_queries: dict[str, str] | None = None
    # The change detector as the last look left it (rate metrics).
    state: DetectorState | None = None


def metrics_in_scope(scope: AnalysisScope) -> list[str]:
    """Step metrics then background metrics, each once."""
    return list(dict.fromkeys((*scope.step_metrics, *scope.background_metrics)))


def current_tallies(scope: AnalysisScope, status: AnalysisStatus | None) -> dict[str, MetricTally]:
    """Tallies that belong to the scope's version; none when the status is about another candidate."""
    if status is None or status.version != scope.version:
        return {}
    return {tally.metric: tally for tally in status.tallies}


def _elapsed(since: str | None, now: datetime) -> float | None:
    return None if since is None else (now - parse_time(since)).total_seconds()


def seconds_until_due(
    resolved: ResolvedMetric, scope: AnalysisScope, tally: MetricTally | None, now: datetime
) -> float:
    """Seconds before `resolved` should be measured again (0 or less: due now)."""
    waits = [0.0]
    # initialDelay counts from first traffic; the step start stands in when the core does not know it.
    traffic_age = _elapsed(scope.traffic_since or scope.step_since, now)
    if resolved.initial_delay > 0 and traffic_age is not None:
        waits.append(resolved.initial_delay - traffic_age)
    last_age = _elapsed(tally.last_at if tally else None, now)
    step_age = _elapsed(scope.step_since, now)
    in_step = resolved.name in scope.step_metrics
    # A step metric last measured before its step began is due at once: only newer measurements count.
    measured_this_step = last_age is not None and (step_age is None or last_age <= step_age)
    if last_age is not None and (measured_this_step or not in_step):
        interval = resolved.interval
        if _awaiting_first_scrape(tally, traffic_age, resolved.interval):
            interval = min(interval, FIRST_SCRAPE_RETRY_SECONDS)
        waits.append(interval - last_age)
    return max(waits)


# Right after traffic reaches a version Prometheus has not scraped it yet: "no data" then is a
# matter of a second, so the next look comes sooner than a full interval (only within the first
# interval of traffic, so a Prometheus that stays down is not asked more often than usual).
FIRST_SCRAPE_RETRY_SECONDS = 0.5


def _awaiting_first_scrape(tally: MetricTally | None, traffic_age: float | None, interval: float) -> bool:
    return (
        tally is not None
        and tally.last_verdict == "inconclusive"
        and tally.measurements == tally.inconclusive
        and traffic_age is not None
        and traffic_age < interval
    )


@dataclass(frozen=True)
class _Planned:
    name: str
    resolved: ResolvedMetric | None
    error: str | None
    wait: float


def _plan(scope: AnalysisScope, analysis: AnalysisSpec, status: AnalysisStatus | None, now: datetime) -> list[_Planned]:
    tallies = current_tallies(scope, status)
    planned: list[_Planned] = []
    for name in metrics_in_scope(scope):
        tally = tallies.get(name)
        spec = find_metric(analysis, name)
        try:
            if spec is None:
                raise AnalysisConfigError(f"metric {name!r} is not defined in spec.analysis.metrics")
            resolved = resolve_metric(spec, analysis)
        except AnalysisConfigError as exc:
            # Reported as an inconclusive measurement once per analysis interval, not raised at the handler.
            last_age = _elapsed(tally.last_at if tally else None, now)
            wait = 0.0 if last_age is None else parse_duration(analysis.interval) - last_age
            planned.append(_Planned(name, None, str(exc), wait))
            continue
        planned.append(_Planned(name, resolved, None, seconds_until_due(resolved, scope, tally, now)))
    return planned


def evidence_range(scope: AnalysisScope, analysis: AnalysisSpec, now: datetime) -> str:
    """The {{range}} of evidence queries: whole seconds since the version under test got traffic."""
    age = _elapsed(scope.traffic_since or scope.step_since, now)
    return f"{max(1, math.ceil(age))}s" if age is not None else analysis.window


def _shape_templates(shape: EvidenceShape | None) -> dict[str, str]:
    if isinstance(shape, CountsShape):
        return {"bad": shape.bad, "trials": shape.trials}
    if isinstance(shape, BucketsShape):
        return {"buckets": shape.buckets}
    if isinstance(shape, MeanShape):
        return {"total": shape.total, "count": shape.count}
    return {}


def detector_state(tally: MetricTally | None) -> DetectorState | None:
    if tally is None or not tally.evidence_looks:
        return None
    return DetectorState(
        looks=tally.evidence_looks,
        bad=tally.evidence_bad,
        trials=tally.evidence_trials,
        log_values=tuple(tally.detector),
    )


def _render_queries(
    resolved: ResolvedMetric,
    scope: AnalysisScope,
    analysis: AnalysisSpec,
    identity: RolloutIdentity,
    now: datetime,
    tally: MetricTally | None,
) -> MetricQuery:
    values = TemplateValues(
        rollout=identity.rollout,
        namespace=identity.namespace,
        model=identity.model,
        version=scope.version_label,
        window=analysis.window,
        stable_version=scope.stable_label,
        range=evidence_range(scope, analysis, now),
    )
    templates = _shape_templates(resolved.shape)
    try:
        query = render(resolved.query, values)
        evidence_queries = {key: render(text, values) for key, text in templates.items()} or None
        baseline_evidence_queries = None
        baseline_query = None
        if resolved.needs_baseline:
            if scope.stable_label is None:
                return MetricQuery(
                    metric=resolved.name,
                    version=scope.version,
                    resolved=resolved,
                    error=f"{resolved.name} compares with the stable version, and no stable version serves",
                )
            # The baseline is the same query on the stable version: {{version}} becomes the stable label.
            stable_values = TemplateValues(
                rollout=values.rollout,
                namespace=values.namespace,
                model=values.model,
                version=scope.stable_label,
                window=values.window,
                stable_version=scope.stable_label,
                range=values.range,
            )
            baseline_query = render(resolved.query, stable_values)
            baseline_evidence_queries = {key: render(text, stable_values) for key, text in templates.items()} or None
    except AnalysisConfigError as exc:
        return MetricQuery(metric=resolved.name, version=scope.version, resolved=resolved, error=str(exc))
    return MetricQuery(
        metric=resolved.name,
        version=scope.version,
        resolved=resolved,
        query=query,
        baseline_query=baseline_query,
        evidence_queries=evidence_queries,
        baseline_evidence_queries=baseline_evidence_queries,
        state=detector_state(tally),
    )


def due_metrics(
    scope: AnalysisScope,
    analysis: AnalysisSpec,
    status: AnalysisStatus | None,
    now: datetime,
    *,
    identity: RolloutIdentity,
) -> list[MetricQuery]:
    """Metrics in scope that are due now, in scope order, each with its rendered queries or an error.

    A metric is due when its initialDelay has passed since the version got traffic and its interval has
    passed since its last measurement (tallies of another version do not count; a step metric not yet
    measured since its step began is due at once). A metric that cannot be measured (unknown, invalid)
    comes back with `error` set, at most once per analysis interval, so it shows up as an inconclusive
    measurement rather than as an exception in the handler.
    """
    due: list[MetricQuery] = []
    tallies = current_tallies(scope, status)
    for item in _plan(scope, analysis, status, now):
        if item.wait > 0:
            continue
        if item.resolved is None:
            due.append(MetricQuery(metric=item.name, version=scope.version, error=item.error))
        else:
            due.append(_render_queries(item.resolved, scope, analysis, identity, now, tallies.get(item.name)))
    return due


def next_due_in(
    scope: AnalysisScope, analysis: AnalysisSpec, status: AnalysisStatus | None, now: datetime
) -> float | None:
    """Seconds until the next metric in scope is due (0 when one is due now); None when none is in scope.

    Handlers can use it to schedule the next reconcile instead of polling.
    """
    waits = [item.wait for item in _plan(scope, analysis, status, now)]
    return max(0.0, min(waits)) if waits else None
