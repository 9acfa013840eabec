"""Which variants an A/B test measures now (the core's half of the A/B analysis contract)."""

from __future__ import annotations

from dataclasses import dataclass

from modelrollout.api.rollout import RolloutSpec, RolloutStatus
from modelrollout.core.observed import Observed
from modelrollout.core.scope import version_label


@dataclass(frozen=True)
class ABScope:
    """The variants in traffic with their version labels, the control, and since when the test runs."""

    variants: tuple[tuple[str, str], ...]  # (ModelVersion, label), spec order, removed ones left out
    control: str
    started_at: str


def ab_scope(spec: RolloutSpec, status: RolloutStatus, observed: Observed) -> ABScope | None:
    """The A/B test to measure, or None before every variant serves, after it ended, or for another strategy."""
    ab_test = spec.strategy.ab_test
    state = status.ab_test
    if ab_test is None or state is None or state.started_at is None or status.candidate_version is None:
        return None
    if state.decision is not None or state.concluded_generation is not None:
        return None  # a sequential test stops at its decision
    removed = {r.version for r in state.removed}
    variants: list[tuple[str, str]] = []
    for variant in ab_test.variants:
        label = version_label(variant.version, observed)
        if variant.version in removed or label is None:
            continue
        variants.append((variant.version, label))
    control = status.stable_version
    if control is None or control not in dict(variants):
        return None
    return ABScope(variants=tuple(variants), control=control, started_at=state.started_at)
