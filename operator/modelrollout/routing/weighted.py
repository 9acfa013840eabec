"""Routers that weigh requests on a route object of their own (an HTTPRoute, a route table).

The stable Service keeps selecting only the stable version, at full size; the canary Service
selects the candidate, which runs enough pods for its share. The route object sends `weight`
percent to the canary Service, so any percentage from 0 to 100 is exact, whatever the replicas.

Order keeps traffic on ready pods: a weight goes up on the route only once the candidate has
the pods for it and the canary Service is seen selecting it; it goes down at once; the candidate
shrinks only once the route carries the lower weight.
"""

from __future__ import annotations

import math

from modelrollout.routing.router import CanaryTarget, RoutePlan, RouteView, full_size_promotion


def candidate_replicas(total: int, weight: int) -> int:
    """Pods the candidate needs for `weight` percent of what `total` pods serve: rounded up, at
    least one for any weight above 0."""
    if weight <= 0:
        return 0
    return min(total, max(1, math.ceil(total * weight / 100)))


class WeightedRouter:
    """Shared behaviour of the gatewayAPI and userHash routers."""

    name = "weighted"
    can_mirror = False
    has_route = True

    def set_routes(self, view: RouteView, weight: int, mirror: int = 0) -> RoutePlan:
        # Mirrored requests need serving too, though nobody waits for their answers.
        want = max(candidate_replicas(view.total, weight), candidate_replicas(view.total, mirror))
        on_route = view.route_weight or 0
        on_mirror = view.route_mirror or 0
        next_candidate = want
        if want < view.candidate_replicas and (
            on_route > weight or on_mirror > mirror or (want == 0 and view.candidate_selected)
        ):
            next_candidate = view.candidate_replicas  # shrink once the route carries less
        ready = view.candidate_ready >= want and view.canary_selects_candidate
        route = weight if weight <= on_route or ready else on_route
        route_mirror = mirror if mirror <= on_mirror or ready else on_mirror
        serves = want > 0 or on_route > 0 or on_mirror > 0
        canary: CanaryTarget = "candidate" if serves and view.candidate_ready >= 1 else "stable"
        return RoutePlan(
            candidate_replicas=next_candidate,
            stable_replicas=view.total,
            active="stable",
            canary=canary,
            weight=on_route,
            settled=(
                on_route == weight and on_mirror == mirror and view.candidate_replicas == want and (want == 0 or ready)
            ),
            waiting_on_others=False,
            route_weight=route,
            route_mirror=route_mirror,
            mirror=on_mirror,
        )

    def get_routes(self, view: RouteView) -> int:
        return view.route_weight or 0

    def promote(self, view: RouteView) -> RoutePlan:
        # Once the stable Service selects the candidate it takes every request whichever Service
        # the route sends it to.
        return full_size_promotion(view, with_route=True)
