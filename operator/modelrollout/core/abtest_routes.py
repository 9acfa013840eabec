"""An A/B test on a router with a route object (gatewayAPI, userHash): each variant's Service, what the
route object sends to each, and the end of the test on it.

The control is reached through the active Service, every other variant through a Service of its own
(`naming.variant_service`, by its place in spec.strategy.abTest.variants). Those Services outlive the
test: afterwards they follow the stable version like a leftover canary Service, and the route object
no longer names them.
"""

from __future__ import annotations

from collections.abc import Mapping

from modelrollout.core import naming
from modelrollout.core.actions import RouteBackend, SetVariantSplit
from modelrollout.core.context import Pass
from modelrollout.routing.factory import router_for
from modelrollout.routing.split import VariantView


def services(ctx: Pass) -> dict[str, str]:
    """ModelVersion -> the Service the route object reaches it through, in spec order."""
    strategy = ctx.spec.strategy.ab_test
    assert strategy is not None
    control = ctx.status.stable_version
    return {
        variant.version: naming.active_service(ctx.inp.name)
        if variant.version == control
        else naming.variant_service(ctx.inp.name, slot)
        for slot, variant in enumerate(strategy.variants)
    }


def route_variant_views(ctx: Pass, versions: list[str]) -> tuple[VariantView, ...]:
    """Each variant's pods, whether its Service selects it, and its share on the route, as observed."""
    by_service = services(ctx)
    backends = ctx.observed.route.backends
    return tuple(
        VariantView(
            version,
            ctx.observed.replicas(version),
            ctx.observed.ready(version),
            selected=ctx.selects(by_service[version], ctx.label(version)),
            route=None if backends is None else backends.get(by_service[version], 0),
        )
        for version in versions
    )


def on_route(ctx: Pass) -> bool:
    """Whether the Rollout's router holds an A/B split on a route object."""
    return router_for(ctx.spec).has_route


def hold_route_split(ctx: Pass, route: Mapping[str, int], wanted: Mapping[str, int]) -> None:
    """Every variant's Service on its pods (once it has a ready one), then the shares on the route.

    A variant out of the test (`wanted` 0) keeps its Service until the route sends it nothing, then
    the Service moves to the control, and only then do its pods go (the splitter waits for it).
    """
    strategy = ctx.spec.strategy.ab_test
    control = ctx.status.stable_version
    assert strategy is not None and control is not None
    by_service = services(ctx)
    backends = ctx.observed.route.backends or {}
    ctx.point("active", control)
    for version, service in by_service.items():
        if version == control:
            continue
        retired = wanted.get(version, 0) == 0 and route.get(version, 0) == 0 and backends.get(service, 0) == 0
        ctx.point_service(service, "variant", control if retired else version)
    shares = {variant.version: variant.weight for variant in strategy.variants}
    # The control last: the route table's fallback, and its buckets after every challenger's.
    order = [v for v in by_service if v != control] + [control]
    write(ctx, [(v, by_service[v], route.get(v, 0), shares.get(v, 0)) for v in order])


def promote_on_route(ctx: Pass, winner: str) -> bool:
    """The winner at full size, then every request to it through the active Service; the other
    variants leave the route. True once observed so."""
    total = ctx.spec.replicas
    ctx.ensure(winner, total)
    ready = ctx.observed.ready(winner) >= total and ctx.observed.replicas(winner) == total
    if not ready:
        return False
    active = naming.active_service(ctx.inp.name)
    ctx.point("active", winner)
    write(ctx, [(winner, active, 100, 100)])
    backends = ctx.observed.route.backends or {}
    return ctx.selects(active, ctx.label(winner)) and backends.get(active, 0) == 100


def idle_split(ctx: Pass) -> None:
    """No test in progress: the route object sends everything to the stable version."""
    stable = ctx.status.stable_version
    if stable is not None:
        write(ctx, [(stable, naming.active_service(ctx.inp.name), 100, 100)])


def write(ctx: Pass, entries: list[tuple[str, str, int, int]]) -> None:
    """(version, service, weight, share) entries onto the route object, unless it cannot be written."""
    if ctx.observed.route.problem is not None:
        return  # the TrafficRouting condition says why
    backends: list[RouteBackend] = []
    for version, service, weight, share in entries:
        label = ctx.label(version)
        if label is None:
            return
        backends.append(RouteBackend(version, label, service, weight, share))
    ctx.actions.append(SetVariantSplit(tuple(backends)))
