"""Rollback to a named version (`undo --to-version`): may the Rollout go there, and its record (pure).

`undo` edits spec.targetVersion as a Git commit would, so the operator treats the new target like
any other (strategy steps, analysis, compatibility gates). The CLI checks first, so that a version
that does not exist, belongs to another model or was rejected is refused with a non-zero exit
instead of a Rollout turning Degraded; the control sent with the edit puts it in the history.
"""

from __future__ import annotations

from collections.abc import Mapping

from modelrollout.api.modelversion import ModelVersion
from modelrollout.api.rollout import RolloutSpec
from modelrollout.core.compatibility import compatibility_conflicts
from modelrollout.core.context import Pass


def undo_refusal(
    rollout: str,
    namespace: str,
    spec: RolloutSpec,
    stable_version: str | None,
    versions: Mapping[str, ModelVersion],
    to_version: str,
    *,
    force: bool = False,
) -> str | None:
    """Why `undo --to-version to_version` is refused (one line), or None when it may go ahead.

    `force` lets a version this Rollout rejected be tried again; nothing else.
    """
    found = versions.get(to_version)
    if found is None:
        return (
            f"ModelVersion {to_version!r} not found in namespace {namespace!r}; "
            f"`modelrollout versions {spec.model} -n {namespace}` lists the versions of {spec.model}"
        )
    if found.spec.model != spec.model:
        return f"ModelVersion {to_version!r} belongs to model {found.spec.model!r}, not {spec.model!r} of {rollout}"
    entry = found.status
    stage = entry.stage if entry else None
    if stage == "archived":
        return (
            f"ModelVersion {to_version!r} is archived; un-archive it first with "
            f"`modelrollout unarchive {to_version} -n {namespace}`"
        )
    if found.spec.stage == "development" and stage in (None, "development", "staging"):
        return f"ModelVersion {to_version!r} is in stage development and may not be rolled out"
    if stage == "rejected" and entry is not None:
        why = f" ({entry.reason})" if entry.reason else ""
        if entry.rollout not in (None, rollout):
            by = f"Rollout {entry.rollout}"
            return f"ModelVersion {to_version!r} was rejected by {by}{why}; only {by} can try it again"
        if not force:
            return f"ModelVersion {to_version!r} was rejected{why}; pass --force to roll back to it anyway"
    target = spec.model_copy(update={"target_version": to_version})
    conflicts = compatibility_conflicts(target, stable_version, versions)
    if conflicts:
        return "the operator would refuse it: " + "; ".join(conflicts)
    return None


def record_undo(ctx: Pass) -> None:
    """The history line of an undo: which version was asked for, and what served then."""
    stable = ctx.status.stable_version or "no version"
    target = ctx.spec.target_version
    ctx.history(target, "UndoRequested", f"undo to {target} requested while {stable} served")
