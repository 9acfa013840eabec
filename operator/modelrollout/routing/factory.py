"""Pick the router a Rollout asks for."""

from __future__ import annotations

from modelrollout.api.rollout import RolloutSpec
from modelrollout.routing.replicas import ReplicasRouter
from modelrollout.routing.router import Router


def router_for(spec: RolloutSpec) -> Router:
    """The canary's traffic router; `replicas` when none is set."""
    return ReplicasRouter()
