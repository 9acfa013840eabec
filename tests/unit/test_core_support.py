"""Accepted-but-not-yet-implemented features are reported, never approximated."""

from __future__ import annotations

from typing import Any

import pytest

from modelrollout.api.rollout import RolloutSpec
from modelrollout.core.support import unsupported_features


def spec(strategy: dict[str, Any]) -> RolloutSpec:
    return RolloutSpec.model_validate({"model": "m", "targetVersion": "m-1", "strategy": strategy})


CANARY_STEPS = [{"setWeight": 50}]
AB_TEST = {"variants": [{"version": "a", "weight": 50}, {"version": "b", "weight": 50}], "metrics": [{"name": "q"}]}


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ({"canary": {"steps": CANARY_STEPS}}, []),
        ({"canary": {"steps": CANARY_STEPS, "trafficRouting": {"replicas": {}}}}, []),
        ({"blueGreen": {}}, []),
        ({"canary": {"steps": CANARY_STEPS, "trafficRouting": {"gatewayAPI": {"httpRoute": "r"}}}}, []),
        ({"canary": {"steps": CANARY_STEPS, "trafficRouting": {"userHash": {}}}}, []),
        ({"abTest": AB_TEST}, []),
        ({"abTest": {**AB_TEST, "trafficRouting": {"replicas": {}}}}, []),
        (
            {"abTest": {**AB_TEST, "trafficRouting": {"userHash": {}}}},
            ["spec.strategy.abTest.trafficRouting.userHash: A/B tests hold their split"],
        ),
    ],
)
def test_unsupported_features_are_named(strategy: dict[str, Any], expected: list[str]) -> None:
    messages = unsupported_features(spec(strategy))
    assert len(messages) == len(expected)
    for message, fragment in zip(messages, expected, strict=True):
        assert fragment in message
