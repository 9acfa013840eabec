"""Pick the router (and the A/B splitter) a Rollout asks for."""

from __future__ import annotations

from modelrollout.api.rollout import RolloutSpec, TrafficRouting
from modelrollout.routing.gatewayapi import GatewayAPIRouter
from modelrollout.routing.replicas import ReplicasRouter
from modelrollout.routing.route_split import RouteSplitter
from modelrollout.routing.router import Router
from modelrollout.routing.split import ReplicaSplitter, Splitter
from modelrollout.routing.userhash import UserHashRouter


def traffic_routing(spec: RolloutSpec) -> TrafficRouting | None:
    """The strategy's trafficRouting (canary or abTest); None when unset."""
    strategy = spec.strategy
    if strategy.canary is not None:
        return strategy.canary.traffic_routing
    if strategy.ab_test is not None:
        return strategy.ab_test.traffic_routing
    return None


def router_for(spec: RolloutSpec) -> Router:
    """The traffic router; `replicas` when none is set."""
    routing = traffic_routing(spec)
    if routing is not None and routing.user_hash is not None:
        return UserHashRouter()
    if routing is not None and routing.gateway_api is not None:
        return GatewayAPIRouter()
    return ReplicasRouter()


def splitter_for(routing: TrafficRouting | None) -> Splitter:
    """How an A/B test holds its split with that router."""
    if routing is not None and routing.user_hash is not None:
        return RouteSplitter(UserHashRouter.name)
    if routing is not None and routing.gateway_api is not None:
        return RouteSplitter(GatewayAPIRouter.name)
    return ReplicaSplitter()
