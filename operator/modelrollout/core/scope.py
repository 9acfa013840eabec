"""Which metrics matter at this moment of a rollout (the core's half of the analysis contract)."""

from __future__ import annotations

from modelrollout.api.common import version_slug
from modelrollout.api.rollout import RolloutSpec, RolloutStatus
from modelrollout.core.analysis_contract import AnalysisScope
from modelrollout.core.observed import Observed


def analysis_scope(spec: RolloutSpec, status: RolloutStatus, observed: Observed) -> AnalysisScope | None:
    """The metrics to measure now for the candidate, or None when no rollout is in progress."""
    candidate = status.candidate_version
    if candidate is None or spec.analysis is None or status.promote_full:
        return None
    if spec.strategy.ab_test is not None:
        # An A/B test measures every variant itself (core.abtest_scope); critical breaches remove a variant.
        return None
    label = version_label(candidate, observed)
    if label is None:
        return None
    stable = status.stable_version
    background = tuple(m.name for m in spec.analysis.metrics if m.background)
    step_metrics: tuple[str, ...] = ()
    step_since = status.step_started_at
    strategy = spec.strategy
    if strategy.canary is not None:
        steps = strategy.canary.steps
        index = status.current_step or 0
        if index < len(steps) and steps[index].analysis is not None:
            step_metrics = tuple(steps[index].analysis.metrics)  # type: ignore[union-attr]
        # Background analysis judges traffic: only once the candidate serves some (mirrored
        # requests count: a shadow step is analysed on them).
        if not status.canary_weight and not status.shadow_percent:
            background = ()
    elif strategy.blue_green is not None:
        bg = status.blue_green
        if bg is not None and bg.promoted_at is not None:
            step_metrics = tuple(strategy.blue_green.post_promotion_analysis)
            step_since = bg.promoted_at
        elif bg is not None and bg.preview_ready_at is not None:
            step_metrics = tuple(strategy.blue_green.pre_promotion_analysis)
            step_since = bg.preview_ready_at
        else:
            background = ()
    if not step_metrics and not background:
        return None
    return AnalysisScope(
        version=candidate,
        version_label=label,
        stable_version=stable,
        stable_label=version_label(stable, observed) if stable else None,
        step_metrics=step_metrics,
        background_metrics=background,
        traffic_since=status.started_at,
        step_since=step_since,
    )


def version_label(version: str, observed: Observed) -> str | None:
    """The version label value of a ModelVersion, from its spec or its Deployment."""
    model_version = observed.model_versions.get(version)
    if model_version is not None:
        return version_slug(model_version.spec.version)
    deployment = observed.deployments.get(version)
    return deployment.label if deployment else None
