"""A ModelVersion shared by several Rollouts: another Rollout's verdict on it, mid-rollout (pure).

Two Rollouts (two regions, two tenants) may roll out the same ModelVersion. Its registry entry
(status.stage, status.rollout) is one, so when one of them rolls it back the entry says `rejected`
by that Rollout. For a Rollout that has not started on it, that verdict stands: validation refuses
it as a target, as before. For a Rollout already serving it or mid-split on it, the verdict is
news, not an order: freezing there (spec suddenly invalid, analysis stopped, half the traffic on a
version nobody judges any more) is the worst outcome. Such a Rollout carries on and decides by its
own analysis, and says so: the `ForeignRejection` condition and an Event when the verdict is seen,
and another when this Rollout's own verdict (promoted, rolled back...) is in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from modelrollout.api.modelversion import ModelVersion
from modelrollout.core import reasons
from modelrollout.core.conditions import get_condition
from modelrollout.core.context import Pass


def validation_view(
    versions: Mapping[str, ModelVersion], rollout: str, in_play: Iterable[str | None]
) -> dict[str, ModelVersion]:
    """The ModelVersions as validation should judge them for `rollout`.

    A version `rollout` itself rejected is the core's to handle (retry, spec change), and one it
    serves or rolls out (`in_play`) that another Rollout rejected meanwhile is judged by its own
    analysis: both read as `candidate` here, so neither makes the spec invalid mid-rollout.
    """
    playing = {version for version in in_play if version}
    view: dict[str, ModelVersion] = {}
    for name, version in versions.items():
        status = version.status
        if status is not None and status.stage == "rejected" and (status.rollout == rollout or name in playing):
            version = version.model_copy(update={"status": status.model_copy(update={"stage": "candidate"})})
        view[name] = version
    return view


def rejected_elsewhere(ctx: Pass, version: str | None) -> str | None:
    """Which other Rollout's rejection the registry entry of `version` carries (None: none)."""
    model_version = ctx.observed.model_versions.get(version) if version else None
    entry = model_version.status if model_version else None
    if entry is None or entry.stage != "rejected" or entry.rollout in (None, ctx.inp.name):
        return None
    return entry.rollout


def note_foreign_rejection(ctx: Pass) -> None:
    """The candidate was rejected by another Rollout: keep going by this Rollout's own analysis, and say so once."""
    candidate = ctx.status.candidate_version
    other = rejected_elsewhere(ctx, candidate)
    if candidate is None or other is None:
        return
    model_version = ctx.observed.model_versions[candidate]
    why = model_version.status.reason if model_version.status and model_version.status.reason else "no reason given"
    message = (
        f"{candidate} was rejected by Rollout {other} ({why}); {ctx.inp.name} goes on and decides by its own analysis"
    )
    held = get_condition(ctx.status.conditions, reasons.FOREIGN_REJECTION)
    if held is None or held.status != "True" or held.message != message:
        ctx.event(reasons.FOREIGN_REJECTION, message, warning=True)
    ctx.condition(reasons.FOREIGN_REJECTION, True, reasons.REJECTED_BY_OTHER_ROLLOUT, message)


def settle_foreign_rejection(ctx: Pass, outcome: str) -> None:
    """The candidate's rollout ended here: after another Rollout's rejection, say this one's verdict."""
    held = get_condition(ctx.status.conditions, reasons.FOREIGN_REJECTION)
    candidate = ctx.status.candidate_version
    if held is None or held.status != "True" or candidate is None:
        return
    other = rejected_elsewhere(ctx, candidate)
    by = f"Rollout {other}" if other else "another Rollout"
    message = f"{candidate}: rejected by {by}; {outcome} here by {ctx.inp.name}'s own analysis"
    ctx.condition(reasons.FOREIGN_REJECTION, False, outcome, message)
    ctx.event(reasons.OWN_VERDICT, message, warning=outcome != "Promoted")
