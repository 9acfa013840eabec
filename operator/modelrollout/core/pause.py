"""Pauses: a pause step, a user's pause, inconclusive analysis. Traffic stays where it is."""

from __future__ import annotations

from modelrollout.core import reasons
from modelrollout.core.context import Pass


def pause(ctx: Pass, reason: str, condition_reason: str, warning: bool = False) -> None:
    """Phase Paused for `reason`; the Event only when the rollout was not already paused for it."""
    if ctx.inp.status.pause_reason != reason:
        ctx.event("Paused", reason, warning=warning)
    ctx.report("Paused", reason)
    ctx.status.pause_reason = reason
    ctx.condition(reasons.PAUSED, True, condition_reason, reason)


def hold(ctx: Pass, reason: str, condition_reason: str) -> None:
    """Keep traffic and replicas where they are; take no step."""
    warning = condition_reason in (reasons.INCONCLUSIVE_ANALYSIS, reasons.ROUTE_NOT_USABLE)
    pause(ctx, reason, condition_reason, warning=warning)
    keep_current_shape(ctx)
    ctx.wait()


def keep_current_shape(ctx: Pass) -> None:
    """Re-assert the replica counts already in place; a deleted stable Deployment comes back."""
    stable = ctx.status.stable_version
    for version in (stable, ctx.status.candidate_version):
        if version is not None and version in ctx.observed.deployments:
            ctx.ensure(version, ctx.observed.replicas(version))
    if stable not in ctx.observed.deployments:
        ctx.ensure(stable, ctx.spec.replicas)
