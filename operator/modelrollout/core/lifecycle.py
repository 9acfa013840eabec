"""ModelVersion lifecycle: the registry entry's next status after a stage transition."""

from __future__ import annotations

from datetime import datetime

from modelrollout.api.common import format_time
from modelrollout.api.modelversion import LifecycleStage, ModelVersionSpec, ModelVersionStatus, StageChange

HISTORY_LIMIT = 20


def with_stage(
    status: ModelVersionStatus | None,
    stage: LifecycleStage,
    reason: str,
    rollout: str | None,
    now: datetime,
    limit: int = HISTORY_LIMIT,
) -> ModelVersionStatus | None:
    """The status after entering `stage`, or None when it is already there (nothing to write)."""
    current = status.model_copy(deep=True) if status else ModelVersionStatus()
    if current.stage == stage and current.reason == reason and (rollout is None or current.rollout == rollout):
        return None
    if current.stage != stage:
        current.history.append(StageChange(stage=stage, at=format_time(now), reason=reason, rollout=rollout))
        current.history = current.history[-limit:]
    current.stage = stage
    current.reason = reason
    if rollout is not None:
        current.rollout = rollout
    return current


def registered(spec: ModelVersionSpec, status: ModelVersionStatus | None, now: datetime) -> ModelVersionStatus | None:
    """Initial or user-driven stage: status follows spec.stage until a rollout takes the version over."""
    if status is not None and status.stage not in (None, "development", "staging"):
        return None
    if status is not None and status.stage == spec.stage:
        return None
    return with_stage(
        status,
        spec.stage,
        "registered" if status is None or status.stage is None else "stage set by user",
        None,
        now,
    )
