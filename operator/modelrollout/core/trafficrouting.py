"""Traffic routing: the core's side of the router interface.

Builds the router's view of the cluster, asks the Rollout's router for a plan and turns the
plan into actions, keeping the safety rules in one place (`Pass.ensure`, `Pass.point`).
"""

from __future__ import annotations

from modelrollout.core import naming, reasons
from modelrollout.core.abtest_routes import idle_split
from modelrollout.core.actions import SetTrafficSplit
from modelrollout.core.context import Pass
from modelrollout.routing.factory import router_for
from modelrollout.routing.router import RoutePlan, Router, RouteView


def router(ctx: Pass) -> Router:
    return router_for(ctx.spec)


def route_view(ctx: Pass) -> RouteView:
    """The router's view of the candidate, its stable version and the Services, as observed."""
    candidate = ctx.status.candidate_version
    stable = ctx.status.stable_version
    assert candidate is not None and stable is not None
    observed = ctx.observed
    return RouteView(
        total=ctx.spec.replicas,
        candidate_replicas=observed.replicas(candidate),
        candidate_ready=observed.ready(candidate),
        stable_replicas=observed.replicas(stable),
        stable_ready=observed.ready(stable),
        active_selects_all=ctx.selects(naming.active_service(ctx.inp.name), None),
        candidate_selected=ctx.observed_selects(candidate),
        others_drained=ctx.others_drained({stable, candidate}),
        canary_selects_candidate=ctx.selects(naming.canary_service(ctx.inp.name), ctx.label(candidate)),
        route_weight=observed.route.weight,
        route_mirror=observed.route.mirror,
    )


def apply_plan(ctx: Pass, plan: RoutePlan) -> RoutePlan:
    """Desired replicas first, then Services; the weight in force goes to status."""
    candidate = ctx.status.candidate_version
    stable = ctx.status.stable_version
    ctx.ensure(candidate, plan.candidate_replicas)
    ctx.ensure(stable, plan.stable_replicas)
    if plan.active == "all":
        ctx.point("active", None)
    elif plan.active is not None:
        ctx.point("active", candidate if plan.active == "candidate" else stable)
    if plan.canary is not None:
        ctx.point("canary", candidate if plan.canary == "candidate" else stable)
    if plan.route_weight is not None:
        split(ctx, candidate, plan.route_weight, plan.route_mirror)
    if plan.weight is not None:
        ctx.status.canary_weight = plan.weight
    ctx.status.shadow_percent = plan.mirror or None
    return plan


def split(ctx: Pass, candidate: str | None, weight: int, mirror: int = 0) -> None:
    """The route object sends `weight` percent to the canary Service (selecting `candidate`) and
    mirrors `mirror` percent to it."""
    stable = ctx.status.stable_version
    stable_label = ctx.label(stable)
    if ctx.observed.route.problem is not None or stable is None or stable_label is None:
        return  # nothing to write to; the TrafficRouting condition says why
    ctx.actions.append(SetTrafficSplit(stable, stable_label, candidate, ctx.label(candidate), weight, mirror))


def routes_idle(ctx: Pass) -> None:
    """No rollout in progress: the router's route object sends everything to stable."""
    if not router(ctx).has_route:
        return
    if ctx.spec.strategy.ab_test is not None:
        idle_split(ctx)  # and no A/B variant Service stays on the route
    else:
        split(ctx, None, 0)


def route_usable(ctx: Pass) -> bool:
    """Whether the router's route object can be written; the TrafficRouting condition says so."""
    if not router(ctx).has_route:
        return True
    problem = ctx.observed.route.problem
    if problem is None:
        ctx.condition(reasons.TRAFFIC_ROUTING, True, reasons.ROUTE_READY, "")
        return True
    ctx.condition(reasons.TRAFFIC_ROUTING, False, reasons.ROUTE_NOT_USABLE, problem)
    return False


def set_weight(ctx: Pass, weight: int, mirror: int = 0) -> RoutePlan:
    """Move traffic towards `weight` percent on the candidate (and `mirror` percent mirrored)."""
    return apply_plan(ctx, router(ctx).set_routes(route_view(ctx), weight, mirror))


def promote_traffic(ctx: Pass) -> RoutePlan:
    """Every request to the candidate once it runs at full size."""
    return apply_plan(ctx, router(ctx).promote(route_view(ctx)))
