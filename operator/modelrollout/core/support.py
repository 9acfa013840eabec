"""Parts of the API this operator version accepts but does not act on yet.

They are reported like invalid input (an InvalidSpec condition, nothing changed) rather than
silently approximated: a user who asked for Gateway API weights must not get replica weights.
"""

from __future__ import annotations

from modelrollout.api.rollout import RolloutSpec, TrafficRouting


def unsupported_features(spec: RolloutSpec) -> list[str]:
    messages: list[str] = []
    canary = spec.strategy.canary
    messages += _routing("spec.strategy.canary.trafficRouting", canary.traffic_routing if canary else None)
    ab_test = spec.strategy.ab_test
    messages += _routing("spec.strategy.abTest.trafficRouting", ab_test.traffic_routing if ab_test else None)
    return messages


def _routing(path: str, routing: TrafficRouting | None) -> list[str]:
    messages: list[str] = []
    if routing is not None and routing.gateway_api is not None:
        messages.append(f"{path}.gatewayAPI: not supported by this operator version yet; use {path}.replicas")
    if routing is not None and routing.user_hash is not None:
        messages.append(f"{path}.userHash: not supported by this operator version yet; use {path}.replicas")
    return messages
