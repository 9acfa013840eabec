"""The router interface (after Flagger's `pkg/router/router.go`) and what it reads and returns.

A router turns "the candidate should get `weight` percent" into desired state, given what was
observed. It never does I/O: the core turns a plan into actions and keeps the safety rules
(a Service only selects a version with ready pods; scale-ups before scale-downs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

# Which pods the stable (active) Service selects: every version of the rollout, or one version.
ActiveTarget = Literal["all", "stable", "candidate"]
# Which version the canary Service selects.
CanaryTarget = Literal["candidate", "stable"]


@dataclass(frozen=True)
class RouteView:
    """What a router needs of the observed cluster for one candidate and its stable version."""

    total: int  # spec.replicas
    candidate_replicas: int
    candidate_ready: int
    stable_replicas: int
    stable_ready: int
    # The active Service selects every version (both serve), as last observed.
    active_selects_all: bool
    # Some owned Service selects the candidate (or every version), as last observed.
    candidate_selected: bool
    # No version besides stable and candidate has pods: a selector over every version is safe.
    others_drained: bool
    # The canary Service selects the candidate (by its version label), as last observed.
    canary_selects_candidate: bool = False
    # The candidate's weight on the router's own route object (route table, HTTPRoute), as last
    # observed; None when there is none (the replicas router, or the object is missing).
    route_weight: int | None = None
    # The share of requests the route object mirrors to the candidate, as last observed.
    route_mirror: int | None = None


@dataclass(frozen=True)
class RoutePlan:
    """Desired state for one weight, and how far the cluster already is."""

    candidate_replicas: int
    stable_replicas: int
    # None: leave that Service as it is this pass.
    active: ActiveTarget | None
    canary: CanaryTarget | None
    # Percentage of requests the candidate serves now, as observed (None: leave status as it is).
    weight: int | None
    # Replicas and traffic are where `weight` wants them, and observed so.
    settled: bool
    # The candidate is ready for the weight; only older versions still winding down hold it back.
    waiting_on_others: bool
    # The candidate's weight to write on the router's route object (None: the router has none).
    route_weight: int | None = None
    # Percentage of requests mirrored to the candidate: to write, and in force as observed.
    route_mirror: int = 0
    mirror: int = 0


def full_size_promotion(view: RouteView, *, with_route: bool = False) -> RoutePlan:
    """The promotion plan every router shares: the candidate at full size first, then both
    Services (and the route object, `with_route`) on it; the old stable keeps its pods until
    the switch and is scaled down after the delay."""
    ready = view.candidate_ready >= view.total and view.candidate_replicas == view.total
    return RoutePlan(
        candidate_replicas=view.total,
        stable_replicas=view.stable_replicas,
        active="candidate" if ready else None,
        canary="candidate" if ready else None,
        weight=100 if ready else None,
        settled=ready,
        waiting_on_others=False,
        route_weight=100 if ready and with_route else None,
    )


class Router(Protocol):
    """One way of realising a weight. Implementations: one module each, picked in `factory`."""

    name: str
    # Whether the router can mirror requests (a shadow step); replica ratio cannot.
    can_mirror: bool
    # Whether the router writes a route object of its own (route table, HTTPRoute weights).
    has_route: bool

    def set_routes(self, view: RouteView, weight: int, mirror: int = 0) -> RoutePlan:
        """Move towards `weight` percent on the candidate, and `mirror` percent mirrored to it
        (only asked of a router that can mirror)."""
        ...

    def get_routes(self, view: RouteView) -> int:
        """The candidate's share of requests as observed now."""
        ...

    def promote(self, view: RouteView) -> RoutePlan:
        """Every request to the candidate (the promotion switch), once it is ready at full size."""
        ...
