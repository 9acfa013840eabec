"""Canary: ordered steps (setWeight, pause, analysis), then full weight and promotion."""

from __future__ import annotations

from datetime import timedelta

from modelrollout.api.common import format_time, parse_duration
from modelrollout.api.rollout import CanaryStep
from modelrollout.core import reasons
from modelrollout.core.candidate import deadline_exceeded, promote
from modelrollout.core.context import Pass
from modelrollout.core.pause import pause
from modelrollout.core.trafficrouting import promote_traffic, set_weight


def canary(ctx: Pass) -> None:
    """Take the current step, or finish when every step is done."""
    strategy = ctx.spec.strategy.canary
    assert strategy is not None
    assert ctx.status.candidate_version is not None and ctx.status.stable_version is not None
    steps = strategy.steps
    if ctx.status.promote_full:
        finish(ctx, "promote --full")
        return
    index = ctx.status.current_step or 0
    if index >= len(steps):
        finish(ctx, "all steps done")
        return
    step = steps[index]
    label = f"step {index + 1}/{len(steps)}"
    if step.set_weight is not None:
        set_weight_step(ctx, step.set_weight, label)
        return
    if step.shadow is not None:
        shadow_step(ctx, step, label, current_weight(steps, index))
        return
    set_weight(ctx, current_weight(steps, index))
    if step.pause is not None:
        pause_step(ctx, step, label)
    elif step.analysis is not None:
        if ctx.summary.step_passed:
            advance_step(ctx, f"{label}: analysis passed")
            ctx.proceed()
        else:
            ctx.in_progress("Progressing", f"{label}: analysis of {', '.join(step.analysis.metrics)} running")
            ctx.wait()


def current_weight(steps: list[CanaryStep], index: int) -> int:
    """The weight in force at step `index`: the last setWeight before it."""
    for step in reversed(steps[:index]):
        if step.set_weight is not None:
            return step.set_weight
    return 0


def advance_step(ctx: Pass, reason: str) -> None:
    ctx.status.current_step = (ctx.status.current_step or 0) + 1
    ctx.status.step_started_at = ctx.now_text
    ctx.status.progress_at = ctx.now_text
    ctx.in_progress("Progressing", reason)
    ctx.event("StepCompleted", reason)


def set_weight_step(ctx: Pass, weight: int, label: str) -> None:
    candidate = ctx.status.candidate_version
    stable = ctx.status.stable_version
    plan = set_weight(ctx, weight)
    if plan.settled:
        advance_step(ctx, f"{label}: weight {weight}% reached")
        ctx.in_progress("Progressing", f"{label}: weight {weight}%")
        ctx.proceed()
        return
    if plan.waiting_on_others:
        # Ready, but an older version still runs out its scale-down delay before both versions
        # can share the stable Service: that is not a lack of progress.
        ctx.status.progress_at = ctx.now_text
        ctx.in_progress("Progressing", f"{label}: waiting for older versions to scale down")
        ctx.wait()
        return
    ctx.in_progress("Progressing", f"{label}: scaling {candidate} and {stable} to weight {weight}%")
    deadline_exceeded(ctx, f"{candidate} at weight {weight}%")


def shadow_step(ctx: Pass, step: CanaryStep, label: str, weight: int) -> None:
    """Mirror a share of requests to the candidate for a while; its duration counts from when the
    mirror is in place. Background analysis judges the candidate on the mirrored requests."""
    shadow = step.shadow
    assert shadow is not None
    candidate = ctx.status.candidate_version
    plan = set_weight(ctx, weight, shadow.percent)
    if not plan.settled:
        ctx.status.step_started_at = ctx.now_text
        ctx.in_progress("Progressing", f"{label}: scaling {candidate} to mirror {shadow.percent}% of requests")
        deadline_exceeded(ctx, f"{candidate} to mirror {shadow.percent}%")
        return
    remaining = parse_duration(shadow.duration) - ctx.since(ctx.status.step_started_at)
    if remaining <= 0:
        advance_step(ctx, f"{label}: mirrored {shadow.percent}% for {shadow.duration}")
        ctx.proceed()
        return
    until = format_time(ctx.inp.now + timedelta(seconds=remaining))
    ctx.in_progress("Progressing", f"{label}: mirroring {shadow.percent}% of requests to {candidate} until {until}")
    ctx.wait(remaining)


def pause_step(ctx: Pass, step: CanaryStep, label: str) -> None:
    assert step.pause is not None
    if step.pause.duration is None:
        pause(ctx, f"{label}: paused until promoted", reasons.CANARY_PAUSE_STEP)
        return
    remaining = parse_duration(step.pause.duration) - ctx.since(ctx.status.step_started_at)
    if remaining <= 0:
        advance_step(ctx, f"{label}: pause of {step.pause.duration} done")
        ctx.proceed()
        return
    # The end time, not a countdown: the message (and so status) stays the same while pausing.
    until = format_time(ctx.inp.now + timedelta(seconds=remaining))
    ctx.in_progress("Progressing", f"{label}: pausing {step.pause.duration} until {until}")
    ctx.wait(remaining)


def finish(ctx: Pass, why: str) -> None:
    """Full weight on the candidate, then it becomes the stable version."""
    candidate = ctx.status.candidate_version
    replicas = ctx.spec.replicas
    if not promote_traffic(ctx).settled:
        ctx.in_progress("Promoting", f"{why}: scaling {candidate} to {replicas} replicas")
        deadline_exceeded(ctx, f"{candidate} at {replicas} replicas")
        return
    promote(ctx)
