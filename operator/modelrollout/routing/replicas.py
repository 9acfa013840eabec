"""The `replicas` router: both versions behind the stable Service, weight = share of ready pods.

Needs no mesh or gateway; its granularity is one pod (20 % is the finest split of 5 replicas).
"""

from __future__ import annotations

import math

from modelrollout.routing.router import ActiveTarget, RoutePlan, RouteView, full_size_promotion


def split_replicas(total: int, weight: int) -> tuple[int, int]:
    """(candidate, stable) replicas for `weight` percent of `total`.

    The candidate gets weight% of total rounded half up, at least one pod for any weight above
    0, and at most total-1 while weight < 100 so the stable version keeps serving. Candidate plus
    stable equals `total`, except for total == 1 with 0 < weight < 100, where both run one pod:
    a single pod cannot carry a split.
    """
    if weight <= 0:
        return 0, total
    if weight >= 100:
        return total, 0
    candidate = max(1, math.floor(total * weight / 100 + 0.5))
    candidate = min(candidate, max(total - 1, 1))
    stable = max(total - candidate, 1)
    return candidate, stable


def effective_weight(candidate_ready: int, stable_ready: int) -> int:
    """Percentage of ready pods, and so of requests, that the candidate serves."""
    total = candidate_ready + stable_ready
    return 0 if total == 0 else math.floor(100 * candidate_ready / total + 0.5)


class ReplicasRouter:
    """Weight by replica counts; both versions serve through the active Service during a split."""

    name = "replicas"
    can_mirror = False
    has_route = False

    def set_routes(self, view: RouteView, weight: int, mirror: int = 0) -> RoutePlan:
        want_candidate, want_stable = split_replicas(view.total, weight)
        # Grow first; shrink a side only when the other side's new pods are ready and serve, and
        # scale the candidate to zero only once no Service selects it any more.
        next_candidate = want_candidate
        next_stable = want_stable
        if want_candidate < view.candidate_replicas and (
            view.stable_ready < want_stable or (want_candidate == 0 and view.candidate_selected)
        ):
            next_candidate = view.candidate_replicas
        if want_stable < view.stable_replicas and (
            view.candidate_ready < want_candidate or (want_candidate > 0 and not view.active_selects_all)
        ):
            next_stable = view.stable_replicas
        # Both versions behind the active Service once the candidate has a ready pod and no
        # third version still has pods that a selector over every version would pick up; at
        # weight 0, until the stable version is back to its replicas.
        keep_both = view.active_selects_all and view.stable_ready < want_stable
        active: ActiveTarget | None = None
        if view.candidate_ready >= 1 and (want_candidate > 0 or keep_both) and view.others_drained:
            active = "all"
        elif view.stable_ready >= 1:
            active = "stable"
        in_place = (
            view.candidate_replicas == want_candidate
            and view.stable_replicas == want_stable
            and view.candidate_ready >= want_candidate
            and view.stable_ready >= want_stable
        )
        if not view.active_selects_all:
            in_force = 0
        elif in_place:
            in_force = weight
        else:
            in_force = self.get_routes(view)
        return RoutePlan(
            candidate_replicas=next_candidate,
            stable_replicas=next_stable,
            active=active,
            # The canary Service selects the candidate while it has ready pods with a weight.
            canary="candidate" if want_candidate > 0 and view.candidate_ready >= 1 else "stable",
            weight=in_force,
            settled=in_place and (weight == 0 or view.active_selects_all),
            waiting_on_others=view.candidate_ready >= want_candidate and not view.others_drained,
        )

    def get_routes(self, view: RouteView) -> int:
        if not view.active_selects_all:
            return 0
        return effective_weight(
            min(view.candidate_ready, view.candidate_replicas), min(view.stable_ready, view.stable_replicas)
        )

    def promote(self, view: RouteView) -> RoutePlan:
        return full_size_promotion(view)
