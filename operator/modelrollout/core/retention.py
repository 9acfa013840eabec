"""Retention: which replaced versions stay ready for `undo`, and which are archived (pure).

Deprecated versions of a Rollout keep their Deployment at 0 replicas, so going back to one is a
scale-up of an object that exists. Beyond the newest `keepDeprecated`, a version deprecated for
`archiveAfter` becomes `archived` and its Deployment is deleted. ModelVersion objects are never
deleted: the registry keeps every version's record. An archived version is not a valid target
until a user un-archives it (`modelrollout unarchive`), which puts it back in `staging`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from modelrollout.api.common import parse_duration, parse_time
from modelrollout.api.modelversion import ModelVersion
from modelrollout.api.rollout import RolloutSpec
from modelrollout.core.actions import DeleteDeployment
from modelrollout.core.context import Pass


def deprecated_at(version: ModelVersion) -> datetime | None:
    """When the version last became deprecated (None: it is not deprecated)."""
    status = version.status
    if status is None or status.stage != "deprecated":
        return None
    moments = [parse_time(change.at) for change in status.history if change.stage == "deprecated"]
    return max(moments) if moments else None


def archived_targets(spec: RolloutSpec, versions: Mapping[str, ModelVersion]) -> list[str]:
    """InvalidSpec messages for a target that is archived."""
    found = versions.get(spec.target_version)
    if found is None or found.status is None or found.status.stage != "archived":
        return []
    return [
        f"spec.targetVersion: ModelVersion {spec.target_version!r} is archived ({found.status.reason or 'retention'}); "
        f"un-archive it with `modelrollout unarchive {spec.target_version}` to roll it out again"
    ]


def retain(ctx: Pass) -> None:
    """Archive what the Rollout's retention policy no longer keeps; delete archived Deployments."""
    policy = ctx.spec.retention
    if policy is None or ctx.inp.invalid:
        return
    status = ctx.status
    in_play = {status.stable_version, status.candidate_version, ctx.spec.target_version}
    pending = {p.version for p in status.pending_scale_downs}
    mine: list[tuple[datetime, str]] = []
    for name, version in ctx.observed.model_versions.items():
        entry = version.status
        if entry is None or entry.rollout != ctx.inp.name or version.spec.model != ctx.spec.model or name in in_play:
            continue
        if entry.stage == "archived":
            _delete_idle(ctx, name, pending)
        elif (since := deprecated_at(version)) is not None:
            mine.append((since, name))
    mine.sort(reverse=True)  # newest first
    age = parse_duration(policy.archive_after)
    for since, name in mine[policy.keep_deprecated :]:
        if (ctx.inp.now - since).total_seconds() < age or not _idle(ctx, name, pending):
            continue
        reason = (
            f"retention of {ctx.inp.name}: beyond the {policy.keep_deprecated} newest deprecated versions "
            f"for {policy.archive_after}"
        )
        ctx.stage(name, "archived", reason)
        ctx.event("Archived", f"{name}: {reason}")
        _delete_idle(ctx, name, pending)


def _idle(ctx: Pass, version: str, pending: set[str]) -> bool:
    """No pod to keep and nothing pointing at it: safe to archive and delete."""
    deployment = ctx.observed.deployments.get(version)
    if deployment is None:
        return True
    return version not in pending and deployment.replicas == 0 and not ctx.selected(version)


def _delete_idle(ctx: Pass, version: str, pending: set[str]) -> None:
    if version in ctx.observed.deployments and _idle(ctx, version, pending):
        ctx.actions.append(DeleteDeployment(version))
