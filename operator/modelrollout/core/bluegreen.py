"""Blue-green: the target at full size beside the stable version, previewed, then switched."""

from __future__ import annotations

from datetime import timedelta

from modelrollout.api.common import format_time
from modelrollout.api.rollout import AnalysisStatus, BlueGreenStatus
from modelrollout.core import naming, reasons
from modelrollout.core.candidate import deadline_exceeded, promote, reject
from modelrollout.core.context import Pass
from modelrollout.core.pause import pause


def blue_green(ctx: Pass) -> None:
    strategy = ctx.spec.strategy.blue_green
    assert strategy is not None
    candidate = ctx.status.candidate_version
    stable = ctx.status.stable_version
    assert candidate is not None and stable is not None
    bg = ctx.status.blue_green or BlueGreenStatus()
    ctx.status.blue_green = bg
    replicas = ctx.spec.replicas
    ctx.ensure(candidate, replicas)
    ctx.ensure(stable, replicas)
    if bg.promoted_at is None:
        before_switch(ctx, bg)
    else:
        after_switch(ctx)


def before_switch(ctx: Pass, bg: BlueGreenStatus) -> None:
    """Preview the candidate, run pre-promotion analysis, wait for promotion, then switch."""
    strategy = ctx.spec.strategy.blue_green
    candidate = ctx.status.candidate_version
    stable = ctx.status.stable_version
    assert strategy is not None and candidate is not None
    ctx.point("active", stable)
    if ctx.observed.ready(candidate) < ctx.spec.replicas:
        ctx.point("preview", stable)
        ctx.in_progress("Progressing", f"waiting for {candidate} to become available")
        deadline_exceeded(ctx, candidate)
        return
    ctx.point("preview", candidate)
    if bg.preview_ready_at is None:
        bg.preview_ready_at = ctx.now_text
        ctx.status.step_started_at = ctx.now_text
        ctx.status.progress_at = ctx.now_text
        ctx.event("PreviewReady", f"{naming.preview_service(ctx.inp.name)} selects {candidate}")
    if strategy.pre_promotion_analysis and not (ctx.summary.step_passed or ctx.status.promote_full):
        ctx.in_progress("Progressing", "pre-promotion analysis running on the preview")
        ctx.wait()
        return
    if not (bg.promotion_approved or ctx.status.promote_full):
        if not strategy.auto_promotion_enabled:
            pause(ctx, "preview ready: waiting for promote", reasons.BLUE_GREEN_PAUSE)
            return
        remaining = strategy.auto_promotion_seconds - ctx.since(bg.preview_ready_at)
        if remaining > 0:
            until = format_time(ctx.inp.now + timedelta(seconds=remaining))
            ctx.in_progress("Progressing", f"preview ready; auto-promotion at {until}")
            ctx.wait(remaining)
            return
    ctx.point("active", candidate)
    bg.promoted_at = ctx.now_text
    ctx.status.step_started_at = ctx.now_text
    ctx.status.analysis = ctx.status.analysis or AnalysisStatus()
    ctx.event("Switched", f"{naming.active_service(ctx.inp.name)} selects {candidate}")
    if strategy.post_promotion_analysis and not ctx.status.promote_full:
        ctx.in_progress("Promoting", "post-promotion analysis running")
        ctx.wait()
        return
    promote(ctx)


def after_switch(ctx: Pass) -> None:
    """Switched: post-promotion analysis decides whether the candidate stays."""
    strategy = ctx.spec.strategy.blue_green
    candidate = ctx.status.candidate_version
    stable = ctx.status.stable_version
    assert strategy is not None and candidate is not None
    if ctx.observed.ready(candidate) < 1 and ctx.observed.ready(stable) >= 1:
        reject(ctx, "RolledBack", f"{candidate} has no ready pod after the switch")
        return
    ctx.point("active", candidate)
    ctx.point("preview", candidate)
    if strategy.post_promotion_analysis and not (ctx.summary.step_passed or ctx.status.promote_full):
        ctx.in_progress("Promoting", "post-promotion analysis running")
        ctx.wait()
        return
    promote(ctx)
