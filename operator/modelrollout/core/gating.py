"""Analysis gating: what the analysis summary and pauses allow this pass, before any step."""

from __future__ import annotations

from modelrollout.core import reasons
from modelrollout.core.candidate import reject
from modelrollout.core.context import Pass
from modelrollout.core.evidence_gate import undecided_gate
from modelrollout.core.pause import hold
from modelrollout.core.trafficrouting import route_usable


def gate(ctx: Pass) -> bool:
    """True when the strategy may take its next step; otherwise this pass rolled back or holds."""
    summary = ctx.summary
    status = ctx.status
    # Verdict events first, so the failing metric's own event exists even when it rolls back.
    for metric, verdict in summary.verdict_changes:
        ctx.event("AnalysisVerdict", f"{metric}: {verdict}", warning=verdict == "fail")
    if summary.critical_failure and not status.promote_full:
        ctx.condition(reasons.ANALYSIS_FAILED, True, reasons.CRITICAL_METRIC_FAILED, summary.critical_failure)
        reject(ctx, "RolledBack", summary.critical_failure, critical=True)
        return False
    if summary.warnings:
        ctx.condition(reasons.METRIC_WARNING, True, reasons.WARNING_METRIC_FAILED, "; ".join(summary.warnings))
    else:
        ctx.condition(reasons.METRIC_WARNING, False, reasons.NO_WARNINGS, "")

    no_data = summary.no_data if not status.promote_full else None
    policy = ctx.spec.analysis.on_no_data if ctx.spec.analysis else "pause"
    if no_data and policy == "rollback":
        reason = f"no data: {no_data}"
        ctx.condition(reasons.ANALYSIS_FAILED, True, reasons.INCONCLUSIVE_ANALYSIS, f"onNoData is rollback; {reason}")
        reject(ctx, "RolledBack", reason)
        return False
    ctx.condition(reasons.ANALYSIS_FAILED, False, reasons.NO_CRITICAL_FAILURE, "")
    if no_data and policy == "pause":
        hold(ctx, f"analysis inconclusive: {no_data}", reasons.INCONCLUSIVE_ANALYSIS)
        return False
    undecided = undecided_gate(ctx.spec.analysis, summary, status.promote_full)
    if undecided is not None:
        if undecided.rollback:
            ctx.condition(reasons.ANALYSIS_FAILED, True, reasons.UNDECIDED_ANALYSIS, undecided.message)
            reject(ctx, "RolledBack", undecided.message)
        else:
            hold(ctx, undecided.message, reasons.UNDECIDED_ANALYSIS)
        return False
    if not route_usable(ctx):
        hold(ctx, f"traffic routing: {ctx.observed.route.problem}", reasons.ROUTE_NOT_USABLE)
        return False
    if status.paused_by_user or ctx.spec.paused:
        hold(ctx, "paused by user" if status.paused_by_user else "spec.paused is true", reasons.PAUSED_BY_USER)
        return False
    if ctx.phase == "Paused":
        status.progress_at = ctx.now_text  # a pause does not count against the deadline
    status.pause_reason = None
    return True
