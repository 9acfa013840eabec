"""Imperative controls (promote, promote --full, abort, retry, pause, resume, stop, undo), each acted on once."""

from __future__ import annotations

from modelrollout.api.rollout import BlueGreenStatus
from modelrollout.core.canary import advance_step
from modelrollout.core.candidate import reject
from modelrollout.core.context import Pass
from modelrollout.core.emergency import stop
from modelrollout.core.rollback import record_undo


def handle_control(ctx: Pass) -> bool:
    """Act on a new control request once; True when that finished the pass (abort)."""
    control = ctx.inp.control
    status = ctx.status
    if control is None or control.raw == status.last_handled_control:
        return False
    status.last_handled_control = control.raw
    in_progress = status.candidate_version is not None
    verb = control.verb
    if verb == "pause":
        status.paused_by_user = True
    elif verb == "resume":
        status.paused_by_user = False
        status.emergency_stop = None
        status.progress_at = ctx.now_text
    elif verb == "stop":
        stop(ctx)
    elif verb == "undo":
        record_undo(ctx)
    elif verb == "retry":
        if status.rejected is not None:
            status.rejected = None
    elif not in_progress:
        ctx.event("ControlIgnored", f"{verb}: no rollout in progress")
        return False
    elif verb == "abort":
        reject(ctx, "Aborted", "aborted by user")
        return True
    elif verb == "promote-full":
        status.promote_full = True
    elif verb == "promote":
        promote_one(ctx)
    ctx.event("Control", f"{verb} requested")
    return False


def promote_one(ctx: Pass) -> None:
    """Promote: past the current canary step, or approve a blue-green switch."""
    strategy = ctx.spec.strategy
    if strategy.blue_green is not None:
        bg = ctx.status.blue_green or BlueGreenStatus()
        bg.promotion_approved = True
        ctx.status.blue_green = bg
    elif strategy.ab_test is not None and ctx.status.ab_test is not None:
        # The winner when the test has one, else the user's choice: spec.targetVersion.
        ctx.status.ab_test.promotion_approved = True
    elif strategy.canary is not None:
        steps = strategy.canary.steps
        step = ctx.status.current_step or 0
        if step < len(steps) and steps[step].set_weight is None:
            advance_step(ctx, f"step {step + 1}/{len(steps)} skipped by promote")
