"""The rollout's lifecycle: the first version, a candidate's start, and its end (promoted,
rolled back, aborted, superseded or cancelled)."""

from __future__ import annotations

from datetime import timedelta

from modelrollout.api.common import format_time
from modelrollout.api.modelversion import LifecycleStage
from modelrollout.api.rollout import (
    ABTestStatus,
    AnalysisStatus,
    BlueGreenStatus,
    Outcome,
    PendingScaleDown,
    RejectedTarget,
)
from modelrollout.core import drain, reasons
from modelrollout.core.context import Pass
from modelrollout.core.shared import settle_foreign_rejection
from modelrollout.core.steady import cleanup, service_roles, steady


def initialize(ctx: Pass, target: str) -> None:
    """No stable version yet: the target serves directly, there is nothing to protect."""
    status = ctx.status
    if target not in ctx.observed.deployments or status.started_at is None:
        status.started_at = ctx.now_text  # a new first target: its deadline starts now
    ctx.ensure(target, ctx.spec.replicas)
    # A first target replaced before it became ready: nothing selects it, so it goes.
    cleanup(ctx, keep={target})
    status.observed_generation = ctx.inp.generation
    if ctx.observed.ready(target) < 1:
        deadline = ctx.spec.progress_deadline_seconds
        if ctx.since(status.started_at) > deadline:
            # Nothing to roll back to: report it, and keep waiting in case it recovers.
            message = f"ProgressDeadlineExceeded: {target} has no ready replica after {deadline}s"
            if ctx.phase != "Degraded":
                ctx.event("ProgressDeadlineExceeded", message, warning=True)
            ctx.report("Degraded", message)
            ctx.condition(reasons.PROGRESSING, False, reasons.PROGRESS_DEADLINE_EXCEEDED, message)
        else:
            message = f"waiting for {target} to become ready"
            ctx.report("Initializing", message)
            ctx.condition(reasons.PROGRESSING, True, reasons.INITIALIZING, message)
        ctx.condition(reasons.AVAILABLE, False, reasons.NO_READY_REPLICAS, f"waiting for {target} to become ready")
        ctx.wait()
        return
    for role in service_roles(ctx):
        ctx.point(role, target)
    status.stable_version = target
    clear_candidate(ctx)
    ctx.stage(target, "production", f"initial version of rollout {ctx.inp.name}")
    ctx.event("Initialized", f"{target} serves all traffic")
    steady(ctx, "Healthy")


def start(ctx: Pass, target: str) -> None:
    """A new candidate: its steps, deadline and analysis start from now."""
    status = ctx.status
    status.candidate_version = target
    status.current_step = 0
    status.canary_weight = 0
    status.started_at = ctx.now_text
    status.step_started_at = ctx.now_text
    status.progress_at = ctx.now_text
    status.promote_full = False
    status.pause_reason = None
    status.blue_green = BlueGreenStatus() if ctx.spec.strategy.blue_green else None
    status.analysis = AnalysisStatus()
    status.ab_test = ABTestStatus() if ctx.spec.strategy.ab_test else None
    status.rejected = None
    status.rollback_drain = None  # a new rollout replaces any wait for stable capacity
    ctx.started = True
    ctx.stage(target, "candidate", f"rolled out by {ctx.inp.name}")
    ctx.event("RolloutStarted", f"rolling out {target} (stable {status.stable_version})")


def end_candidate(ctx: Pass, outcome: Outcome, reason: str, stage: LifecycleStage, *, critical: bool = False) -> None:
    """The candidate leaves the rollout without promotion; traffic returns to stable as its
    capacity allows (`drain`), except on an emergency stop (at once) or for a new candidate
    (whose rollout takes the traffic over)."""
    candidate = ctx.status.candidate_version
    assert candidate is not None
    if outcome not in ("Stopped", "Superseded"):
        drain.begin(ctx, critical)
    settle_foreign_rejection(ctx, outcome)
    ctx.history(candidate, outcome, reason)
    ctx.stage(candidate, stage, reason)
    ctx.event(outcome, f"{candidate}: {reason}", warning=outcome in ("RolledBack", "Aborted"))
    clear_candidate(ctx)


def clear_candidate(ctx: Pass) -> None:
    """No rollout in progress any more: forget the candidate's progress."""
    status = ctx.status
    status.candidate_version = None
    status.current_step = None
    status.canary_weight = 0
    status.shadow_percent = None
    status.promote_full = False
    status.blue_green = None
    status.pause_reason = None


def reject(ctx: Pass, outcome: Outcome, reason: str, *, critical: bool = False) -> None:
    """Roll back: traffic to stable as its capacity allows (`drain`, spec.rollbackPolicy; `critical`:
    a critical metric breach), candidate rejected until spec change or retry."""
    candidate = ctx.status.candidate_version
    assert candidate is not None
    ctx.status.rejected = RejectedTarget(version=candidate, generation=ctx.inp.generation, reason=reason)
    end_candidate(ctx, outcome, reason, "rejected", critical=critical)
    steady(ctx, "RolledBack", message=f"{candidate} {outcome.lower()}: {reason}")


def promote(ctx: Pass, reason: str | None = None) -> None:
    """The candidate becomes stable; the old stable is kept briefly, then scaled down."""
    status = ctx.status
    candidate = status.candidate_version
    old = status.stable_version
    assert candidate is not None
    delay = scale_down_delay(ctx)
    if old and old != candidate:
        at = ctx.inp.now + timedelta(seconds=delay)
        bg = status.blue_green
        if bg and bg.promoted_at:
            at = max(at - timedelta(seconds=ctx.since(bg.promoted_at)), ctx.inp.now)
        status.pending_scale_downs = [p for p in status.pending_scale_downs if p.version not in (old, candidate)] + [
            PendingScaleDown(version=old, at=format_time(at))
        ]
        ctx.stage(old, "deprecated", f"replaced by {candidate}")
    settle_foreign_rejection(ctx, "Promoted")
    ctx.stage(candidate, "production", f"promoted by {ctx.inp.name}")
    ctx.history(
        candidate,
        "Promoted",
        reason or ("all steps and analysis passed" if not status.promote_full else "promoted with --full"),
    )
    ctx.event("Promoted", f"{candidate} is stable; {old} scales down in {delay}s")
    status.stable_version = candidate
    clear_candidate(ctx)
    steady(ctx, "Healthy")


def scale_down_delay(ctx: Pass) -> int:
    strategy = ctx.spec.strategy
    if strategy.blue_green is not None:
        return strategy.blue_green.scale_down_delay_seconds
    if strategy.canary is not None:
        return strategy.canary.scale_down_delay_seconds
    return 30


def deadline_exceeded(ctx: Pass, waiting_for: str) -> bool:
    """Abort when readiness has not come within progressDeadlineSeconds of the last progress."""
    deadline = ctx.spec.progress_deadline_seconds
    if ctx.since(ctx.status.progress_at) <= deadline:
        ctx.wait()
        return False
    reject(ctx, "Aborted", f"ProgressDeadlineExceeded: {waiting_for} not ready within {deadline}s")
    return True
