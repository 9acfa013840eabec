"""Pre-upgrade validation: the blue-green preview's verdict, recorded on the target ModelVersion (pure).

Before any user-facing traffic, the preview Service serves the target alone and
prePromotionAnalysis judges it; a metric with `minRatioToBaseline` (e.g. qualityScore at 1.1:
at least 10 % better than the stable version, measured on the stable at the same time) states
the margin. A failure rejects the target (the analysis gate) with the numbers in the Rollout's
status and an Event; either way the outcome lands on the ModelVersion as the condition
`UpgradeValidated`, so the registry says which versions proved themselves against which stable.
"""

from __future__ import annotations

from modelrollout.core.actions import SetModelVersionCondition
from modelrollout.core.context import Pass

UPGRADE_VALIDATED = "UpgradeValidated"
VALIDATION_PASSED = "PrePromotionAnalysisPassed"
VALIDATION_FAILED = "PrePromotionAnalysisFailed"


def record_validation(ctx: Pass) -> None:
    """After the gate and the strategy ran: record a pre-promotion verdict reached in this pass."""
    strategy = ctx.spec.strategy.blue_green
    before = ctx.inp.status
    candidate = before.candidate_version
    if strategy is None or not strategy.pre_promotion_analysis or candidate is None or ctx.started:
        return
    if before.blue_green is None or before.blue_green.promoted_at is not None:
        return  # already switched: post-promotion analysis is not a pre-upgrade check
    against = f"against {before.stable_version}" if before.stable_version else ""
    rejected = ctx.status.rejected
    if rejected is not None and rejected.version == candidate and ctx.status.candidate_version is None:
        ctx.actions.append(
            SetModelVersionCondition(
                candidate, UPGRADE_VALIDATED, False, VALIDATION_FAILED, f"{against}: {rejected.reason}".lstrip(": ")
            )
        )
        return
    if not ctx.summary.step_passed:
        return
    wanted = set(strategy.pre_promotion_analysis)
    latest: dict[str, str] = {}
    for measurement in ctx.status.analysis.measurements if ctx.status.analysis else []:
        if measurement.version == candidate and measurement.metric in wanted and measurement.verdict == "pass":
            latest[measurement.metric] = measurement.message
    evidence = "; ".join(latest[name] for name in sorted(latest)) or "every pre-promotion metric passed"
    ctx.actions.append(
        SetModelVersionCondition(candidate, UPGRADE_VALIDATED, True, VALIDATION_PASSED, f"{against}: {evidence}")
    )
