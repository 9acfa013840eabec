"""Steady state: no candidate, the stable version serves everything, old versions wind down."""

from __future__ import annotations

from modelrollout.api.common import parse_time
from modelrollout.api.rollout import PendingScaleDown, Phase
from modelrollout.core import drain, naming, reasons
from modelrollout.core.actions import ServiceRole
from modelrollout.core.context import Pass
from modelrollout.core.trafficrouting import route_usable, routes_idle


def steady(ctx: Pass, phase: Phase, message: str | None = None) -> None:
    """Every Service on the stable version at full size; versions out of play scale down."""
    stable = ctx.status.stable_version
    assert stable is not None
    replicas = ctx.spec.replicas
    ctx.ensure(stable, replicas)
    keep = {stable}
    if message is None and phase == "Healthy":
        message = f"{stable} serves all traffic"
    serving, message = drain.hold(ctx, message)
    if serving is None:
        for role in service_roles(ctx):
            ctx.point(role, stable)
        for name in naming.variant_services(ctx.inp.name):
            if name in ctx.observed.services:  # left from an A/B test: follows stable, as a canary Service does
                ctx.point_service(name, "variant", stable)
        route_usable(ctx)
        routes_idle(ctx)
    else:
        # A rollback waiting for stable capacity: the rolled-back version keeps its pods and share.
        route_usable(ctx)
        keep.add(serving)
    cleanup(ctx, keep=keep)
    ready = ctx.observed.ready(stable)
    ctx.report(phase, message)
    ctx.status.observed_generation = ctx.inp.generation
    full = ready >= replicas
    ctx.condition(
        reasons.AVAILABLE,
        ready >= 1,
        reasons.REPLICAS_READY if full else (reasons.MINIMUM_REPLICAS_READY if ready else reasons.NO_READY_REPLICAS),
        f"{ready}/{replicas} replicas of {stable} ready",
    )
    ctx.condition(reasons.PROGRESSING, False, reasons.NO_ROLLOUT_IN_PROGRESS, "")
    ctx.condition(reasons.PAUSED, False, reasons.NOT_PAUSED, "")
    if phase == "Healthy":
        ctx.condition(reasons.COMPLETED, True, reasons.ROLLOUT_COMPLETED, f"{stable} is stable")
    elif ctx.spec.target_version != stable:
        # Not "in progress" beside Progressing=False: say why the target is not serving.
        why = reasons.ROLLED_BACK if phase == "RolledBack" else reasons.EMERGENCY_STOP
        ctx.condition(reasons.COMPLETED, False, why, f"{ctx.spec.target_version} does not serve; {stable} does")
    if not full:
        ctx.wait()


def service_roles(ctx: Pass) -> tuple[ServiceRole, ...]:
    """The Services of the strategy, plus any left from an earlier one (they follow the stable
    version, or the version they still select could never be scaled down)."""
    strategy = ctx.spec.strategy
    roles: list[ServiceRole] = ["active"]
    if strategy.blue_green is not None:
        roles.append("preview")
    if strategy.canary is not None:
        roles.append("canary")
    if "preview" not in roles and naming.preview_service(ctx.inp.name) in ctx.observed.services:
        roles.append("preview")
    if "canary" not in roles and naming.canary_service(ctx.inp.name) in ctx.observed.services:
        roles.append("canary")
    return tuple(roles)


def cleanup(ctx: Pass, keep: set[str]) -> None:
    """Scale down versions out of play once their delay passed and nothing depends on them."""
    pending = {p.version: p for p in ctx.status.pending_scale_downs}
    still_pending: list[PendingScaleDown] = []
    now = ctx.inp.now
    for version, deployment in ctx.observed.deployments.items():
        if version in keep or deployment.replicas == 0:
            continue
        entry = pending.get(version)
        if entry is not None and parse_time(entry.at) > now:
            still_pending.append(entry)
            ctx.wait((parse_time(entry.at) - now).total_seconds())
            continue
        if ctx.selected(version):
            # A Service still selects it (the switch lands this pass): next pass.
            if entry is not None:
                still_pending.append(entry)
            ctx.wait()
            continue
        ctx.ensure(version, 0)
        ctx.event("ScaledDown", f"{version} scaled to 0")
    ctx.status.pending_scale_downs = still_pending
