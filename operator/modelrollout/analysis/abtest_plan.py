"""An A/B test's metrics resolved, their queries per variant, and the status a look produces.

Pure: the Prometheus adapter runs the queries (`adapters.abtest`) and hands back numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from modelrollout.analysis import abtest
from modelrollout.analysis.metrics import ResolvedMetric, find_metric, resolve_metric
from modelrollout.analysis.plan import RolloutIdentity
from modelrollout.analysis.templates import AnalysisConfigError, TemplateValues, render
from modelrollout.api.abtest import AB_PRESETS, ABPreset
from modelrollout.api.common import format_time, parse_time
from modelrollout.api.rollout import (
    ABComparison,
    ABEstimate,
    ABMetricResult,
    ABRemoval,
    ABTestStatus,
    ABTestStrategy,
    AnalysisSpec,
)
from modelrollout.core.abtest_scope import ABScope


@dataclass(frozen=True)
class ABMetricPlan:
    """One compared metric: the statistics' plan, its A/B preset and the resolved analysis metric."""

    plan: abtest.MetricPlan
    preset: ABPreset
    resolved: ResolvedMetric


@dataclass(frozen=True)
class VariantQueries:
    """The queries of one metric for one variant; `buckets` only for histograms."""

    metric: str
    version: str
    events_or_total: str
    trials_or_count: str
    buckets: str | None


@dataclass(frozen=True)
class Observation:
    """What the queries of one metric for one variant returned (None: no data, with `error`)."""

    events_or_total: float | None
    trials_or_count: float | None
    buckets: tuple[tuple[float, float], ...] = ()
    error: str | None = None


def ab_plans(ab_test: ABTestStrategy, analysis: AnalysisSpec) -> list[ABMetricPlan]:
    """The compared metrics; AnalysisConfigError when one cannot be compared (validation reports it first)."""
    plans: list[ABMetricPlan] = []
    for metric in ab_test.metrics:
        spec = find_metric(analysis, metric.name)
        if spec is None or spec.preset not in AB_PRESETS or spec.query is not None:
            raise AnalysisConfigError(f"metric {metric.name!r} cannot be compared in an A/B test")
        resolved = resolve_metric(spec, analysis)
        preset = AB_PRESETS[spec.preset]
        better = metric.better or ("lower" if resolved.thresholds[0].kind.startswith("max") else "higher")
        effect = metric.minimum_effect or preset.min_effect
        plans.append(ABMetricPlan(abtest.MetricPlan(metric.name, better, effect, metric.guardrail), preset, resolved))
    return plans


def window(scope: ABScope, now: datetime) -> str:
    """The range every query covers: the whole test so far, whole seconds, at least one."""
    return f"{max(1, math.ceil((now - parse_time(scope.started_at)).total_seconds()))}s"


def variant_queries(
    plans: list[ABMetricPlan], scope: ABScope, identity: RolloutIdentity, now: datetime
) -> list[VariantQueries]:
    """Every metric's queries for every variant in traffic, rendered with validated label values."""
    queries: list[VariantQueries] = []
    span = window(scope, now)
    for item in plans:
        for version, label in scope.variants:
            values = TemplateValues(
                rollout=identity.rollout,
                namespace=identity.namespace,
                model=identity.model,
                version=label,
                window=span,
                stable_version=None,
            )
            preset = item.preset
            queries.append(
                VariantQueries(
                    metric=item.plan.name,
                    version=version,
                    events_or_total=render(preset.events_or_total, values),
                    trials_or_count=render(preset.trials_or_count, values),
                    buckets=render(preset.buckets, values) if preset.buckets else None,
                )
            )
    return queries


def sample(preset: ABPreset, observation: Observation) -> abtest.Sample | None:
    """The statistics' view of one observation, or None without data."""
    first, second = observation.events_or_total, observation.trials_or_count
    if first is None or second is None or not (math.isfinite(first) and math.isfinite(second)):
        return None
    # increase() extrapolates to the window's edges: counts are rounded back to whole requests.
    if preset.kind == "proportion":
        return abtest.proportion_sample(round(first), round(second))
    return abtest.mean_sample(first, round(second), buckets=observation.buckets, bounds=preset.bounds)


def _rounded(value: float) -> float:
    return float(f"{value:.6g}")


def _critical_breach(item: ABMetricPlan, interval: tuple[float, float]) -> str | None:
    """A critical absolute threshold the variant's whole confidence sequence lies beyond."""
    if item.resolved.severity != "critical":
        return None
    for threshold in item.resolved.thresholds:
        if threshold.kind == "max" and interval[0] > threshold.limit:
            return f"{item.plan.name} is above its critical max {threshold.limit:g} (interval from {interval[0]:.4g})"
        if threshold.kind == "min" and interval[1] < threshold.limit:
            return f"{item.plan.name} is below its critical min {threshold.limit:g} (interval to {interval[1]:.4g})"
    return None


def look(
    ab_test: ABTestStrategy,
    plans: list[ABMetricPlan],
    scope: ABScope,
    observations: dict[tuple[str, str], Observation],
    previous: ABTestStatus,
    now: datetime,
    *,
    max_duration: float,
) -> ABTestStatus:
    """The A/B status after one look: estimates, comparisons, decision, and variants to remove.

    `observations[(metric, version)]`. The always-valid p-value is the running minimum of 1 / e-value,
    so it never rises between looks.
    """
    versions = [version for version, _ in scope.variants]
    samples: dict[str, dict[str, abtest.Sample]] = {}
    missing: dict[str, list[str]] = {}
    for item in plans:
        per_variant: dict[str, abtest.Sample] = {}
        for version in versions:
            observation = observations.get((item.plan.name, version), Observation(None, None, error="not measured"))
            found = sample(item.preset, observation)
            if found is None:
                missing.setdefault(item.plan.name, []).append(f"{version}: {observation.error or 'no data'}")
            else:
                per_variant[version] = found
        samples[item.plan.name] = per_variant
    expired = (now - parse_time(scope.started_at)).total_seconds() >= max_duration
    verdict = abtest.decide(
        [item.plan for item in plans],
        scope.control,
        versions,
        samples,
        alpha=ab_test.alpha,
        power=ab_test.power,
        min_samples=ab_test.min_samples_per_variant,
        expired=expired,
    )
    old_p = {(m.metric, c.version): c.p_value for m in previous.metrics for c in m.comparisons}
    removed = list(previous.removed)
    removed_versions = {r.version for r in removed}
    metrics: list[ABMetricResult] = []
    best: tuple[float, float] | None = None
    for item, result in zip(plans, verdict.results, strict=True):
        estimates = [
            ABEstimate(
                version=version,
                samples=result.samples[version].n if version in result.samples else 0,
                mean=_rounded(result.samples[version].mean) if version in result.samples else None,
                ci=[_rounded(v) for v in result.intervals[version]] if version in result.intervals else [],
            )
            for version in versions
        ]
        comparisons: list[ABComparison] = []
        for version, comparison in result.comparisons.items():
            p_value = min(comparison.p_value, old_p.get((item.plan.name, version), 1.0))
            comparisons.append(
                ABComparison(
                    version=version,
                    effect=_rounded(comparison.effect),
                    ci=[_rounded(comparison.lower), _rounded(comparison.upper)],
                    p_value=_rounded(p_value),
                    e_value=_rounded(min(comparison.e_value, 1e12)),
                    significant=comparison.significant(item.plan.better),
                )
            )
            if version == verdict.winner and not item.plan.guardrail and (best is None or p_value < best[1]):
                best = (comparison.effect, p_value)
        for version, interval in result.intervals.items():
            breach = _critical_breach(item, interval)
            if breach is not None and version != scope.control and version not in removed_versions:
                removed.append(ABRemoval(version=version, reason=breach, at=format_time(now)))
                removed_versions.add(version)
        needed = result.needed
        metrics.append(
            ABMetricResult(
                metric=item.plan.name,
                better=item.plan.better,
                guardrail=item.plan.guardrail,
                estimates=estimates,
                comparisons=comparisons,
                samples_needed=math.ceil(needed) if needed is not None else None,
                needs=abtest.needs_in_words(result, ab_test.power),
                message="; ".join(missing.get(item.plan.name, [])),
            )
        )
    decision = verdict.decision
    if removed_versions - {r.version for r in previous.removed}:
        decision = None  # the split changed this look: decide on the next one, with the variant gone
    return previous.model_copy(
        update={
            "control": scope.control,
            "last_look": format_time(now),
            "alpha_per_test": _rounded(verdict.alpha_per_test),
            "metrics": metrics,
            "decision": decision,
            "confidence": verdict.confidence if decision else None,
            "winner": verdict.winner if decision else None,
            "effect": _rounded(best[0]) if best and decision == "upgrade" else None,
            "p_value": _rounded(best[1]) if best and decision == "upgrade" else None,
            "reason": verdict.reason,
            "removed": removed,
        }
    )
