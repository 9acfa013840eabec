"""Conditions agree with the phase, in every phase the core produces, after every pass.

Each scenario drives the real `reconcile()` through the fake cluster (see fakecluster.py) into one
or more phases; the statuses of all its passes are checked against one table of rules, so a
condition left behind by an earlier phase (a `Completed=False RolloutInProgress` beside
`Progressing=False` after a rollback, say) fails here. Together the scenarios cover every value of
the Phase literal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, get_args

import pytest
from fakecluster import (
    ANALYSIS,
    NEVER,
    Driver,
    blue_green_spec,
    canary_spec,
    mv_name,
    new_driver,
    rollout_spec,
    steps_pass,
)

from modelrollout.api.common import Condition
from modelrollout.api.rollout import Phase, RolloutStatus
from modelrollout.core import reasons
from modelrollout.core.analysis_contract import AnalysisSummary

V1 = mv_name("1.0.0")
V2 = mv_name("1.1.0")
CRITICAL = AnalysisSummary(critical_failure="error-rate: 0.3 > 0.05")


def condition(status: RolloutStatus, type_: str) -> tuple[str, str] | None:
    found = next((c for c in status.conditions if c.type == type_), None)
    return None if found is None else (found.status, found.reason)


def value(status: RolloutStatus, type_: str) -> str | None:
    found = condition(status, type_)
    return None if found is None else found[0]


# phase -> (Progressing, Completed, Paused) it requires; None: no rule for that condition here.
TABLE: dict[str, tuple[str | None, str | None, str | None]] = {
    "Initializing": ("True", None, "False"),
    "Progressing": ("True", "False", "False"),
    "Promoting": ("True", "False", "False"),
    "Paused": (None, None, "True"),
    "Healthy": ("False", "True", "False"),
    "Degraded": ("False", None, None),
    "RolledBack": ("False", "False", "False"),
}


def violations(status: RolloutStatus) -> list[str]:
    """What in `status` disagrees with its phase (an empty list when everything agrees)."""
    phase = status.phase
    assert phase is not None
    found: list[str] = []
    progressing, completed, paused = TABLE[phase]
    for type_, wanted in (
        (reasons.PROGRESSING, progressing),
        (reasons.COMPLETED, completed),
        (reasons.PAUSED, paused),
    ):
        have = value(status, type_)
        # A condition never written yet reads as not True.
        if wanted is not None and (have or "False") != wanted:
            found.append(f"{phase}: {type_}={have}, want {wanted}")
    done = condition(status, reasons.COMPLETED)
    if done is not None and done == ("False", reasons.ROLLOUT_IN_PROGRESS):
        in_play = status.candidate_version is not None
        if value(status, reasons.PROGRESSING) != "True" and not (phase == "Paused" and in_play):
            found.append(f"{phase}: Completed=False/RolloutInProgress beside Progressing!=True")
    if done is not None and done[0] == "True" and status.candidate_version is not None:
        found.append(f"{phase}: Completed=True while {status.candidate_version} is rolling out")
    if phase == "RolledBack" and done is not None and done[1] != reasons.ROLLED_BACK:
        found.append(f"RolledBack: Completed reason {done[1]}")
    # Degraded (an invalid spec) keeps a pause in force: fixing the spec must not resume it.
    if phase not in ("Paused", "Degraded") and value(status, reasons.PAUSED) == "True":
        found.append(f"{phase}: Paused=True")
    if phase == "Healthy" and status.candidate_version is not None:
        found.append(f"Healthy with candidate {status.candidate_version}")
    return found


# ------------------------------------------------------------------------------------- scenarios


def first_version_slow() -> Driver:
    driver = new_driver(canary_spec("1.0.0"), stable=None, ready_after={"1.0.0": 3})
    driver.run_until(lambda d: d.status.phase == "Healthy")
    return driver


def first_version_never_ready() -> Driver:
    driver = new_driver(canary_spec("1.0.0", progressDeadlineSeconds=20), stable=None, ready_after={"1.0.0": NEVER})
    driver.run_until(lambda d: d.status.phase == "Degraded")
    driver.run(2)
    return driver


def canary_through_every_step() -> Driver:
    steps = [{"setWeight": 25}, {"pause": {"duration": "10s"}}, {"analysis": {"metrics": ["error-rate"]}}]
    driver = new_driver(canary_spec(steps=[*steps, {"pause": {}}]), analysis=steps_pass)
    driver.run_until(lambda d: d.status.phase == "Paused")
    driver.send("pause")
    driver.run(2)
    driver.send("resume")
    driver.run(1)
    driver.send("promote")
    driver.run_until(lambda d: d.status.phase == "Healthy")
    driver.run(2)
    return driver


def canary_critical_failure_with_slow_stable() -> Driver:
    driver = new_driver(canary_spec(steps=[{"setWeight": 60}, {"pause": {}}], replicas=5))
    driver.run_until(lambda d: d.status.phase == "Paused")
    driver.cluster.ready_after[V1] = 3
    driver.step(CRITICAL)
    driver.run_until(lambda d: d.status.rollback_drain is None and d.cluster.replicas(V2) == 0)
    driver.run(2)
    return driver


def canary_abort_then_retry() -> Driver:
    driver = new_driver(canary_spec(steps=[{"setWeight": 50}, {"pause": {}}]))
    driver.run_until(lambda d: d.status.phase == "Paused")
    driver.send("abort")
    driver.run(4)
    driver.send("retry")
    driver.run_until(lambda d: d.status.phase == "Paused")
    return driver


def canary_deadline() -> Driver:
    driver = new_driver(canary_spec(progressDeadlineSeconds=20), ready_after={"1.1.0": NEVER})
    driver.run_until(lambda d: d.status.phase == "RolledBack")
    driver.run(3)
    return driver


def canary_on_no_data_pauses() -> Driver:
    driver = new_driver(canary_spec(steps=[{"setWeight": 50}, {"analysis": {"metrics": ["error-rate"]}}]))
    driver.run_until(lambda d: d.status.current_step == 1)
    driver.run(2, AnalysisSummary(no_data="error-rate: no data"))
    driver.run(2, AnalysisSummary(step_passed=True))
    driver.run_until(lambda d: d.status.phase == "Healthy")
    return driver


def emergency_stop_mid_rollout() -> Driver:
    driver = new_driver(canary_spec(steps=[{"setWeight": 50}, {"pause": {}}]))
    driver.run_until(lambda d: d.status.phase == "Paused")
    driver.send("stop")
    driver.run(3)
    driver.send("resume")
    driver.run(3)
    return driver


def emergency_stop_when_healthy() -> Driver:
    driver = new_driver(canary_spec("1.0.0"))
    driver.send("stop")
    driver.run(2)
    driver.send("resume")
    driver.run(2)
    return driver


def invalid_spec_mid_rollout() -> Driver:
    driver = new_driver(canary_spec(steps=[{"setWeight": 50}, {"setWeight": 75}]), ready_after={"1.1.0": 2})
    driver.run_until(lambda d: d.status.canary_weight == 50 or d.status.current_step == 1)
    driver.invalid = ("spec.analysis.metrics: something is wrong",)
    driver.run(2)
    driver.invalid = ()
    driver.run_until(lambda d: d.status.phase == "Healthy")
    return driver


def invalid_spec_while_paused() -> Driver:
    driver = new_driver(canary_spec(steps=[{"setWeight": 50}, {"pause": {}}]))
    driver.run_until(lambda d: d.status.phase == "Paused")
    driver.invalid = ("spec.analysis.metrics: something is wrong",)
    driver.run(2)
    driver.invalid = ()
    driver.run(2)
    driver.send("promote")
    driver.run_until(lambda d: d.status.phase == "Healthy")
    return driver


def target_back_to_stable() -> Driver:
    driver = new_driver(canary_spec(steps=[{"setWeight": 50}, {"pause": {}}]))
    driver.run_until(lambda d: d.status.phase == "Paused")
    driver.set_target("1.0.0")
    driver.run(3)
    return driver


def blue_green_post_promotion_failure() -> Driver:
    driver = new_driver(blue_green_spec(autoPromotionSeconds=0, postPromotionAnalysis=["error-rate"]))
    driver.run_until(lambda d: d.status.phase == "Promoting")
    driver.run(1)
    driver.step(CRITICAL)
    driver.run(3)
    return driver


def blue_green_manual_promotion() -> Driver:
    driver = new_driver(blue_green_spec(autoPromotionEnabled=False))
    driver.run_until(lambda d: d.status.phase == "Paused")
    driver.send("promote")
    driver.run_until(lambda d: d.status.phase == "Healthy")
    return driver


def ab_test_keep() -> Driver:
    ab: dict[str, Any] = {
        "variants": [{"version": V1, "weight": 50}, {"version": V2, "weight": 50}],
        "metrics": [{"name": "quality"}],
        "promoteWinner": True,
    }
    driver = new_driver(rollout_spec("1.1.0", replicas=4, strategy={"abTest": ab}, analysis=ANALYSIS))
    driver.run_until(lambda d: d.status.ab_test is not None and d.status.ab_test.started_at is not None)
    driver.run(2)
    assert driver.status.ab_test is not None
    driver.status.ab_test = driver.status.ab_test.model_copy(
        update={"decision": "keep", "winner": V1, "confidence": "high", "reason": "no better"}
    )
    driver.settle()
    return driver


SCENARIOS: dict[str, Callable[[], Driver]] = {
    "first-version-slow": first_version_slow,
    "first-version-never-ready": first_version_never_ready,
    "canary-every-step": canary_through_every_step,
    "canary-critical-slow-stable": canary_critical_failure_with_slow_stable,
    "canary-abort-retry": canary_abort_then_retry,
    "canary-deadline": canary_deadline,
    "canary-no-data": canary_on_no_data_pauses,
    "stop-mid-rollout": emergency_stop_mid_rollout,
    "stop-when-healthy": emergency_stop_when_healthy,
    "invalid-mid-rollout": invalid_spec_mid_rollout,
    "invalid-while-paused": invalid_spec_while_paused,
    "target-back-to-stable": target_back_to_stable,
    "blue-green-post-promotion-failure": blue_green_post_promotion_failure,
    "blue-green-manual": blue_green_manual_promotion,
    "ab-test-keep": ab_test_keep,
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_conditions_agree_with_the_phase_after_every_pass(scenario: str) -> None:
    driver = SCENARIOS[scenario]()
    found = [
        f"pass {index}: {problem}"
        for index, decision in enumerate(driver.decisions)
        for problem in violations(decision.status)
    ]
    assert found == [], "\n".join(found)


def test_the_scenarios_reach_every_phase() -> None:
    seen = {decision.status.phase for scenario in SCENARIOS.values() for decision in scenario().decisions}
    assert seen >= set(get_args(Phase)), set(get_args(Phase)) - seen


@pytest.mark.parametrize(
    ("phase", "conditions", "ok"),
    [
        ("RolledBack", {"Progressing": "False", "Completed": ("False", "RolloutInProgress")}, False),
        ("RolledBack", {"Progressing": "False", "Completed": ("False", "RolledBack")}, True),
        ("Healthy", {"Progressing": "False", "Completed": ("True", "RolloutCompleted")}, True),
        ("Healthy", {"Progressing": "True", "Completed": ("True", "RolloutCompleted")}, False),
        ("Progressing", {"Progressing": "True", "Completed": ("False", "RolloutInProgress")}, True),
        ("Progressing", {"Progressing": "True", "Paused": "True"}, False),
    ],
)
def test_the_rules_catch_what_they_should(phase: str, conditions: dict[str, Any], ok: bool) -> None:

    listed = [
        Condition(
            type=type_,
            status=state if isinstance(state, str) else state[0],
            reason="R" if isinstance(state, str) else state[1],
            last_transition_time="2026-03-01T12:00:00Z",
        )
        for type_, state in conditions.items()
    ]
    status = RolloutStatus.model_validate({"phase": phase, "conditions": [c.model_dump(by_alias=True) for c in listed]})
    assert (violations(status) == []) is ok
