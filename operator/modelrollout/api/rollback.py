"""How traffic returns to the stable version on a rollback or abort: spec.rollbackPolicy and its status.

Kept apart from rollout.py so the capacity rule reads in one place; RolloutSpec includes the
policy as `spec.rollbackPolicy` and RolloutStatus the wait as `status.rollbackDrain`.
"""

from __future__ import annotations

from pydantic import Field

from modelrollout.api.common import Percent, SpecModel, StatusModel


class RollbackPolicy(SpecModel):
    """When traffic leaves a rolled-back candidate: at once, or as the stable version's pods become ready.

    On a rollback the stable version scales back up first. The candidate keeps serving the share
    the stable version's ready pods cannot carry yet, until the stable version has at least
    minReadyPercent of spec.replicas ready (then every request goes to stable), or until
    maxWaitSeconds pass. Traffic never points at a version without a ready pod.
    """

    min_ready_percent: Percent = Field(
        default=100,
        description=(
            "Stable capacity, in percent of spec.replicas ready, at which every request leaves the rolled-back"
            " candidate. 100 (default): no capacity drop, the candidate serves its share until the stable version"
            " is fully ready. 0: leave at once, as long as the stable version has one ready pod."
        ),
    )
    critical_min_ready_percent: Percent | None = Field(
        default=None,
        description=(
            "The same threshold for a rollback caused by a critical metric breach (a candidate that is"
            " harming users). Empty: minReadyPercent. Set 0 to leave such a candidate at once."
        ),
    )
    max_wait_seconds: int = Field(
        default=600,
        ge=0,
        description=(
            "Longest wait for stable capacity; after it every request goes to the stable version"
            " with whatever capacity it has (a Warning Event says so)."
        ),
    )


class RollbackDrain(StatusModel):
    """A rolled-back candidate still serving while the stable version's pods become ready."""

    version: str = Field(description="The rolled-back ModelVersion still serving part of the traffic.")
    since: str = Field(description="When the rollback began waiting for stable capacity (RFC 3339).")
    min_ready_percent: int = Field(description="The threshold in force for this rollback.")
    required_ready: int = Field(description="Ready stable pods at which every request leaves the candidate.")
    stable_ready: int = Field(default=0, description="Ready stable pods at the last look.")
    candidate_percent: int = Field(default=0, description="Percentage of requests the candidate still served.")
    message: str | None = Field(
        default=None,
        description="The Rollout's message when the wait began (the rollback's reason), shown again after it.",
    )
