"""Pick the router a Rollout asks for."""

from __future__ import annotations

from modelrollout.api.rollout import RolloutSpec
from modelrollout.routing.gatewayapi import GatewayAPIRouter
from modelrollout.routing.replicas import ReplicasRouter
from modelrollout.routing.router import Router
from modelrollout.routing.userhash import UserHashRouter


def router_for(spec: RolloutSpec) -> Router:
    """The canary's traffic router; `replicas` when none is set."""
    canary = spec.strategy.canary
    routing = canary.traffic_routing if canary is not None else None
    if routing is not None and routing.user_hash is not None:
        return UserHashRouter()
    if routing is not None and routing.gateway_api is not None:
        return GatewayAPIRouter()
    return ReplicasRouter()
