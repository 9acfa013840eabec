"""Status for a Rollout whose spec cannot even be read into the model (e.g. a stale CRD)."""

from __future__ import annotations

from datetime import datetime

from modelrollout.api.common import format_time
from modelrollout.api.rollout import RolloutStatus
from modelrollout.core import reasons
from modelrollout.core.conditions import set_condition


def unreadable_spec_status(status: RolloutStatus, generation: int, message: str, now: datetime) -> RolloutStatus:
    """InvalidSpec and Degraded; nothing else changes, so children stay as they are."""
    result = status.model_copy(deep=True)
    result.conditions = set_condition(
        result.conditions, reasons.INVALID_SPEC, "True", reasons.SPEC_INVALID, message, format_time(now), generation
    )
    result.phase = "Degraded"
    result.message = f"invalid spec: {message}"
    result.observed_generation = generation
    return result
