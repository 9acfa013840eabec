"""Parts of the API this operator version accepts but does not act on yet.

They are reported like invalid input (an InvalidSpec condition, nothing changed) rather than
silently approximated: a user who asked for user-consistent A/B groups must not get replica shares.
"""

from __future__ import annotations

from modelrollout.api.rollout import RolloutSpec


def unsupported_features(spec: RolloutSpec) -> list[str]:
    messages: list[str] = []
    ab_test = spec.strategy.ab_test
    routing = ab_test.traffic_routing if ab_test else None
    path = "spec.strategy.abTest.trafficRouting"
    if routing is not None and routing.gateway_api is not None:
        messages.append(f"{path}.gatewayAPI: A/B tests hold their split with {path}.replicas only in this version")
    if routing is not None and routing.user_hash is not None:
        messages.append(f"{path}.userHash: A/B tests hold their split with {path}.replicas only in this version")
    return messages
