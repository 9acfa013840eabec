"""Parts of the API this operator version accepts but does not act on yet.

They are reported like invalid input (an InvalidSpec condition, nothing changed) rather than
silently approximated: a user who asked for an A/B test must not get a canary.
"""

from __future__ import annotations

from modelrollout.api.rollout import RolloutSpec


def unsupported_features(spec: RolloutSpec) -> list[str]:
    messages: list[str] = []
    if spec.strategy.ab_test is not None:
        messages.append("spec.strategy.abTest: A/B tests are not supported by this operator version yet")
    return messages
