"""Pre-upgrade validation: the blue-green preview's pre-promotion verdict is recorded on the target."""

from __future__ import annotations

from datetime import UTC, datetime

from fakecluster import blue_green_spec, mv_name, new_driver, steps_pass, steps_wait

from modelrollout.api.rollout import Measurement, RolloutStatus
from modelrollout.core.actions import SetModelVersionCondition
from modelrollout.core.analysis_contract import AnalysisScope, AnalysisSummary

V1, V2 = mv_name("1.0.0"), mv_name("1.1.0")
AT = datetime(2026, 3, 1, tzinfo=UTC).isoformat()


def validations(decisions: list[object]) -> list[SetModelVersionCondition]:
    return [a for d in decisions for a in d.actions if isinstance(a, SetModelVersionCondition)]  # type: ignore[attr-defined]


def test_a_passed_preview_is_recorded_with_the_measured_numbers_before_the_switch() -> None:
    message = "error-rate=0.004 within max 0.05"

    def passing(scope: AnalysisScope | None, status: RolloutStatus) -> AnalysisSummary:
        if scope and scope.step_metrics and status.analysis is not None:
            status.analysis.measurements = [
                Measurement(metric="error-rate", version=V2, value=0.004, verdict="pass", message=message, at=AT)
            ]
        return steps_pass(scope, status)

    driver = new_driver(blue_green_spec(prePromotionAnalysis=["error-rate"], autoPromotionEnabled=False))
    driver.analysis = passing
    driver.run_until(lambda d: d.status.phase == "Paused", max_passes=30)
    [recorded, *_] = validations(driver.decisions)
    assert recorded == SetModelVersionCondition(
        V2, "UpgradeValidated", True, "PrePromotionAnalysisPassed", f"against {V1}: {message}"
    )
    assert driver.service("active") == V1  # recorded before any user traffic moved


def test_a_failed_preview_is_recorded_and_the_target_rejected() -> None:
    driver = new_driver(blue_green_spec(prePromotionAnalysis=["quality-gain"], analysis=None), analysis=steps_wait)
    driver.run_until(lambda d: d.service("preview") == V2, max_passes=30)
    failure = "quality-gain=0.8 is 0.94x baseline 0.85, below minRatioToBaseline 1.1"
    driver.step(AnalysisSummary(critical_failure=failure))
    assert driver.status.rejected is not None
    assert validations(driver.decisions[-1:]) == [
        SetModelVersionCondition(
            V2, "UpgradeValidated", False, "PrePromotionAnalysisFailed", f"against {V1}: {failure}"
        )
    ]
    assert driver.service("active") == V1


def test_nothing_is_recorded_without_pre_promotion_analysis_or_after_the_switch() -> None:
    driver = new_driver(blue_green_spec(), analysis=steps_pass)
    driver.run_until(lambda d: d.status.stable_version == V2, max_passes=30)
    assert validations(driver.decisions) == []
    driver = new_driver(blue_green_spec(postPromotionAnalysis=["error-rate"]), analysis=steps_pass)
    driver.run_until(lambda d: d.status.stable_version == V2, max_passes=30)
    assert validations(driver.decisions) == []
