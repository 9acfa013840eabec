"""The Rollout state machine: one pure pass from what is to what should be.

`reconcile` takes the Rollout's spec and status, the observed Deployments, Services and
ModelVersions, a pending control request, the analysis summary and the time, and returns the
next status plus desired-state actions. It never performs I/O, so a pass can be re-run after a
crash at any line: actions are desired states (not deltas) and progress lives only in status.

The pass is a list of steps over a shared context (`context.Pass`); each concern lives in its
own module: `controls`, `candidate` (the lifecycle), `steady`, `gating` (analysis), `pause`,
`canary`, `bluegreen` and `trafficrouting` (the router interface, `modelrollout.routing`).

Safety rules every pass keeps:
- a Service is only pointed at a version with at least one ready pod;
- replicas are added before they are removed (scale-ups first, scale-downs once the other
  side is ready), so capacity never drops below what serves traffic;
- a version is scaled to zero only when no Service selects it any more.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelrollout.api.rollout import RolloutStatus
from modelrollout.core import reasons
from modelrollout.core.abtest import ab_test, ab_variants, concluded, promoting_winner
from modelrollout.core.actions import (
    Action,
    EnsureDeployment,
    SetModelVersionStage,
    SetServiceSelector,
    SetTrafficSplit,
    SetVariantSplit,
)
from modelrollout.core.bluegreen import blue_green
from modelrollout.core.canary import canary
from modelrollout.core.candidate import end_candidate, initialize, reject, start
from modelrollout.core.conditions import is_true
from modelrollout.core.context import WAIT_REQUEUE_SECONDS, Pass, RolloutInput
from modelrollout.core.controls import handle_control
from modelrollout.core.emergency import held
from modelrollout.core.gating import gate
from modelrollout.core.retention import retain
from modelrollout.core.shared import note_foreign_rejection
from modelrollout.core.steady import cleanup, steady
from modelrollout.core.validation import record_validation

__all__ = ["WAIT_REQUEUE_SECONDS", "Decision", "RolloutInput", "reconcile"]


@dataclass(frozen=True)
class Decision:
    """The next status, the actions to apply first, and when to look again."""

    status: RolloutStatus
    actions: tuple[Action, ...]
    requeue_after: float | None


def reconcile(inp: RolloutInput) -> Decision:
    """One pass of the state machine."""
    ctx = Pass(inp=inp, status=inp.status.model_copy(deep=True))
    run(ctx)
    retain(ctx)
    ctx.settle()
    requeue = min(ctx.requeue) if ctx.requeue else None
    return Decision(status=ctx.status, actions=_dedupe(ctx.actions), requeue_after=requeue)


def run(ctx: Pass) -> None:
    """The pass: each step may end it early."""
    if ctx.inp.invalid:
        invalid(ctx)
        return
    if is_true(ctx.status.conditions, reasons.INVALID_SPEC):
        ctx.condition(reasons.INVALID_SPEC, False, reasons.SPEC_VALID, "")
    if handle_control(ctx) or held(ctx):
        return
    target = ctx.spec.target_version
    stable = ctx.status.stable_version
    candidate = ctx.status.candidate_version
    if stable is None or (stable not in ctx.observed.model_versions and stable not in ctx.observed.deployments):
        # Nothing serves yet (or what served is gone entirely): there is nothing to protect.
        initialize(ctx, target)
        return
    if target == stable:
        if candidate is not None:
            end_candidate(ctx, "Cancelled", "targetVersion set back to the stable version", "staging")
        steady(ctx, "Healthy")
        return
    if concluded(ctx):
        return
    rejected = ctx.status.rejected
    if rejected and rejected.version == target and rejected.generation == ctx.inp.generation:
        steady(ctx, "RolledBack")
        return
    if candidate != target and not promoting_winner(ctx):
        if candidate is not None:
            end_candidate(ctx, "Superseded", f"targetVersion changed to {target}", "staging")
        start(ctx, target)
    progress(ctx)


def invalid(ctx: Pass) -> None:
    """InvalidSpec: say what to fix; nothing in the cluster changes."""
    message = "; ".join(ctx.inp.invalid)
    already = any(
        c.type == reasons.INVALID_SPEC and c.status == "True" and c.message == message for c in ctx.status.conditions
    )
    ctx.condition(reasons.INVALID_SPEC, True, reasons.SPEC_INVALID, message)
    # Nothing moves until the spec is fixed: not progressing, and the target not completed.
    ctx.condition(reasons.PROGRESSING, False, reasons.SPEC_INVALID, message)
    if ctx.status.candidate_version is not None or ctx.spec.target_version != ctx.status.stable_version:
        ctx.condition(reasons.COMPLETED, False, reasons.SPEC_INVALID, message)
    ctx.report("Degraded", f"invalid spec: {message}")
    ctx.status.observed_generation = ctx.inp.generation
    if not already:
        ctx.event("InvalidSpec", message, warning=True)


def progress(ctx: Pass) -> None:
    """A candidate in play: finish an interrupted rollback, gate on analysis, take the next step."""
    ctx.status.observed_generation = ctx.inp.generation
    if ctx.status.candidate_version is None:
        return
    if finish_interrupted_rejection(ctx):
        return
    note_foreign_rejection(ctx)
    if gate(ctx):
        strategy = ctx.spec.strategy
        if strategy.blue_green is not None:
            blue_green(ctx)
        elif strategy.canary is not None:
            canary(ctx)
        else:
            ab_test(ctx)
    record_validation(ctx)
    stable, candidate = ctx.status.stable_version, ctx.status.candidate_version
    if candidate is not None and stable is not None:
        cleanup(ctx, keep={stable, candidate, *ab_variants(ctx)})


def finish_interrupted_rejection(ctx: Pass) -> bool:
    """A rollback whose actions landed but whose status write did not (the operator died in
    between): the candidate's registry entry already says this Rollout rejected it, so finish
    the rollback instead of carrying on with the rollout."""
    candidate = ctx.status.candidate_version
    model_version = ctx.observed.model_versions.get(candidate) if candidate else None
    if ctx.started or model_version is None or model_version.status is None:
        return False
    entry = model_version.status
    if entry.stage != "rejected" or entry.rollout != ctx.inp.name:
        return False
    reject(ctx, "RolledBack", entry.reason or "rejected before the operator restarted")
    return True


def _key(action: Action) -> tuple[str, str] | None:
    """The object an action sets desired state for (None: events, which are all kept)."""
    if isinstance(action, EnsureDeployment):
        return ("deployment", action.version)
    if isinstance(action, SetServiceSelector):
        return ("service", action.service)
    if isinstance(action, SetModelVersionStage):
        return ("stage", action.version)
    if isinstance(action, SetTrafficSplit | SetVariantSplit):
        return ("route", "")
    return None


def _dedupe(actions: list[Action]) -> tuple[Action, ...]:
    """Keep the last desired state per Deployment/Service/stage and every event, in order."""
    last_index = {key: index for index, action in enumerate(actions) if (key := _key(action)) is not None}
    return tuple(
        action for index, action in enumerate(actions) if (key := _key(action)) is None or last_index[key] == index
    )
