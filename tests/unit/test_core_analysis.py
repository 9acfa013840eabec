"""The core's half of analysis: acting on summaries, and which metrics are in scope when."""

from __future__ import annotations

from typing import Any

import pytest
from fakecluster import (
    ANALYSIS,
    Driver,
    FakeCluster,
    blue_green_spec,
    canary_spec,
    mv_name,
    new_driver,
    steps_pass,
    steps_wait,
)

from modelrollout.api.rollout import BlueGreenStatus, RolloutStatus
from modelrollout.core.actions import EmitEvent, SetServiceSelector
from modelrollout.core.analysis_contract import NO_ANALYSIS, AnalysisScope, AnalysisSummary
from modelrollout.core.observed import DeploymentState, Observed
from modelrollout.core.scope import analysis_scope

V1 = mv_name("1.0.0")
V2 = mv_name("1.1.0")
V3 = mv_name("1.2.0")
BACKGROUND = ("error-rate", "latency", "cost")  # "quality" is background: false

STEPS: list[dict[str, Any]] = [
    {"setWeight": 20},
    {"analysis": {"metrics": ["error-rate", "quality"]}},
    {"setWeight": 50},
    {"pause": {}},
]
CRITICAL = AnalysisSummary(critical_failure="error-rate: 0.12 > 0.05")


def canary_at(step: int, **kwargs: Any) -> Driver:
    kwargs.setdefault("analysis", steps_wait)
    driver = new_driver(canary_spec(steps=STEPS, **kwargs.pop("spec", {})), **kwargs)
    driver.run_until(lambda d: d.status.current_step == step and d.status.phase != "Healthy", max_passes=40)
    return driver


def blue_green_at(phase: str, **blue_green: Any) -> Driver:
    driver = new_driver(blue_green_spec(**blue_green), analysis=steps_wait)
    driver.run_until(lambda d: d.status.phase == phase, max_passes=40)
    return driver


# ------------------------------------------------------------------ critical failure

ROLLBACK_POINTS = {
    "canary-weight-20": lambda: canary_at(0),
    "canary-analysis-step": lambda: canary_at(1),
    "canary-paused-step": lambda: canary_at(3, analysis=steps_pass),
    "canary-paused-by-user": lambda: _paused_by_user(),
    "blue-green-pre-promotion": lambda: blue_green_at("Progressing", prePromotionAnalysis=["error-rate"]),
    "blue-green-post-promotion": lambda: blue_green_at("Promoting", postPromotionAnalysis=["error-rate"]),
}


def _paused_by_user() -> Driver:
    driver = canary_at(1)
    driver.send("pause")
    driver.run(2)
    assert driver.status.phase == "Paused"
    return driver


@pytest.mark.parametrize("point", sorted(ROLLBACK_POINTS))
def test_critical_failure_rolls_back_at_once(point: str) -> None:
    driver: Driver = ROLLBACK_POINTS[point]()
    active_before = driver.service("active")
    decision = driver.step(CRITICAL)
    status = driver.status
    assert status.phase == "RolledBack"
    assert status.candidate_version is None
    failed = driver.condition("AnalysisFailed")
    assert (failed.status, failed.reason, failed.message) == ("True", "CriticalMetricFailed", CRITICAL.critical_failure)
    assert status.history[-1].outcome == "RolledBack"
    assert status.history[-1].reason == CRITICAL.critical_failure
    assert status.rejected is not None and status.rejected.reason == CRITICAL.critical_failure
    assert driver.cluster.stage(V2) == "rejected"
    if active_before == V2:  # blue-green after the switch: the active Service switches back in this pass
        assert SetServiceSelector("chat", "active", "1.0.0") in decision.actions
    assert driver.service("active") in (V1, "*")
    driver.run_until(lambda d: d.cluster.replicas(V2) == 0 and d.service("active") == V1, max_passes=10)
    driver.run(10)
    assert driver.status.phase == "RolledBack"
    assert driver.condition("AnalysisFailed").status == "True"


def test_critical_failure_is_ignored_during_promote_full() -> None:
    driver = canary_at(1)
    driver.send("promote-full")
    driver.step()
    driver.run_until(lambda d: d.status.phase == "Healthy", analysis=CRITICAL)
    assert driver.status.stable_version == V2


def test_summary_about_the_previous_candidate_does_not_judge_a_new_one() -> None:
    driver = canary_at(1)
    driver.set_target("1.2.0")
    driver.step(CRITICAL)
    assert driver.status.candidate_version == V3
    assert driver.status.phase == "Progressing"
    assert driver.status.history[-1].outcome == "Superseded"
    assert driver.status.rejected is None


# ------------------------------------------------------------------ warnings


def test_warnings_set_a_condition_but_never_roll_back() -> None:
    driver = canary_at(1, analysis=steps_pass)
    warning = AnalysisSummary(warnings=("cost: 2.4x baseline", "tokens: 1.7x baseline"), step_passed=True)
    driver.step(warning)
    condition = driver.condition("MetricWarning")
    assert (condition.status, condition.reason) == ("True", "WarningMetricFailed")
    assert condition.message == "cost: 2.4x baseline; tokens: 1.7x baseline"
    assert driver.status.phase == "Progressing"
    assert driver.status.current_step == 2, "a warning does not stop a passed step"
    driver.run_until(lambda d: d.status.phase == "Paused", analysis=warning)
    assert driver.status.history == []
    driver.step(AnalysisSummary())
    assert driver.condition("MetricWarning").status == "False"


def test_verdict_changes_become_events() -> None:
    driver = canary_at(1)
    summary = AnalysisSummary(verdict_changes=(("error-rate", "pass"), ("cost", "fail")))
    decision = driver.step(summary)
    assert EmitEvent("Normal", "AnalysisVerdict", "error-rate: pass") in decision.actions
    assert EmitEvent("Warning", "AnalysisVerdict", "cost: fail") in decision.actions


# ------------------------------------------------------------------ no data


NO_DATA = AnalysisSummary(no_data="error-rate: no data for version 1.1.0")


@pytest.mark.parametrize("on_no_data", ["pause", "rollback", "ignore"])
@pytest.mark.parametrize("step", [0, 1])
def test_inconclusive_analysis_follows_on_no_data(on_no_data: str, step: int) -> None:
    driver = canary_at(step, spec={"analysis": {**ANALYSIS, "onNoData": on_no_data}})
    before = driver.status.current_step
    driver.run(5, NO_DATA)
    status = driver.status
    if on_no_data == "pause":
        assert status.phase == "Paused"
        assert status.current_step == before
        assert driver.condition("Paused").reason == "InconclusiveAnalysis"
        assert [e.type for e in driver.events("Paused")] == ["Warning"]
        driver.analysis = steps_pass
        driver.run_until(lambda d: (d.status.current_step or 0) > (before or 0))
        assert len(driver.events("Paused")) == 1
    elif on_no_data == "rollback":
        assert status.phase == "RolledBack"
        assert status.history[-1].reason == f"no data: {NO_DATA.no_data}"
        assert driver.cluster.stage(V2) == "rejected"
    else:
        assert status.phase == "Progressing"
        assert status.history == []


def test_no_analysis_section_pauses_on_no_data() -> None:
    driver = new_driver(canary_spec(steps=[{"setWeight": 20}, {"setWeight": 40}], analysis=None))
    driver.run(2, NO_DATA)
    assert driver.status.phase == "Paused"


# ------------------------------------------------------------------ collecting evidence

UNDECIDED = AnalysisSummary(
    undecided="still undecided after 10m: error-rate: collecting evidence: 38 of ≥ 190 requests"
)


@pytest.mark.parametrize("on_undecided", ["pause", "rollback"])
def test_a_step_undecided_past_its_bound_follows_on_undecided_and_never_promotes(on_undecided: str) -> None:
    driver = canary_at(1, spec={"analysis": {**ANALYSIS, "onNoData": "rollback", "onUndecided": on_undecided}})
    driver.run(5, UNDECIDED)
    status = driver.status
    if on_undecided == "pause":
        # Not "no data": onNoData (rollback here) does not fire; the step holds with its own condition.
        assert status.phase == "Paused" and status.current_step == 1
        assert driver.condition("Paused").reason == "UndecidedAnalysis"
        assert "38 of ≥ 190 requests" in driver.condition("Paused").message
        driver.analysis = steps_pass  # the evidence decides: it goes on by itself
        driver.run_until(lambda d: (d.status.current_step or 0) > 1)
    else:
        assert status.phase == "RolledBack"
        assert status.history[-1].reason.startswith("onUndecided is rollback; still undecided")
        assert driver.condition("AnalysisFailed").reason == "UndecidedAnalysis"
    assert all(entry.outcome != "Promoted" for entry in driver.status.history)


def test_collecting_evidence_within_its_bound_just_keeps_measuring() -> None:
    driver = canary_at(1, spec={"analysis": {**ANALYSIS, "onNoData": "rollback"}})
    driver.run(20, AnalysisSummary())  # collecting: neither no data nor passed
    assert driver.status.phase == "Progressing" and driver.status.current_step == 1


# ------------------------------------------------------------------ analysis steps


def test_analysis_step_holds_until_it_passes() -> None:
    driver = canary_at(1)
    driver.run(50)
    assert driver.status.current_step == 1
    assert driver.status.phase == "Progressing"
    assert driver.status.message == "step 2/4: analysis of error-rate, quality running"
    assert driver.status.history == [], "an analysis step has no deadline of its own"
    driver.step(AnalysisSummary(step_passed=True))
    assert driver.status.current_step == 2
    assert driver.events("StepCompleted")[-1].message == "step 2/4: analysis passed"


def test_step_passed_in_the_pass_that_starts_a_candidate_is_not_its_own() -> None:
    steps: list[dict[str, Any]] = [{"analysis": {"metrics": ["error-rate"]}}, {"setWeight": 50}]
    driver = new_driver(canary_spec(steps=steps))
    driver.step(AnalysisSummary(step_passed=True))
    assert driver.status.candidate_version == V2
    assert driver.status.current_step == 0


def test_blue_green_does_not_promote_on_a_summary_about_the_previous_candidate() -> None:
    # 1.1.0 was rolled out and is still running (pending scale-down); 1.2.0 is in preview with
    # its pre-promotion analysis passed; the user undoes to 1.1.0, whose pods are ready at once.
    spec = blue_green_spec("1.1.0", prePromotionAnalysis=["error-rate"], scaleDownDelaySeconds=600)
    driver = new_driver(spec, analysis=steps_pass)
    driver.run_until(lambda d: d.status.phase == "Healthy")
    driver.set_target("1.2.0")
    driver.edit(strategy={"blueGreen": {"prePromotionAnalysis": ["error-rate"], "autoPromotionEnabled": False}})
    driver.run_until(lambda d: d.status.phase == "Paused")
    assert driver.cluster.ready(V2) == 2 and driver.cluster.ready(V1) == 2
    driver.edit(strategy={"blueGreen": {"prePromotionAnalysis": ["error-rate"]}}, targetVersion=V1)
    driver.step(AnalysisSummary(step_passed=True))  # 1.2.0's verdict
    assert driver.status.candidate_version == V1
    assert driver.service("active") == V2, "switched on another version's analysis"
    assert driver.status.phase == "Progressing"
    driver.analysis = steps_pass
    driver.run_until(lambda d: d.status.phase == "Healthy")
    assert driver.status.stable_version == V1


# ------------------------------------------------------------------ analysis_scope


def observed_with(*semvers: str) -> Observed:
    cluster = FakeCluster()
    cluster.add_versions(*semvers)
    return cluster.observe()


OBSERVED = observed_with("1.0.0", "1.1.0")
T1 = "2026-03-01T12:00:00Z"
T2 = "2026-03-01T12:01:00Z"
T3 = "2026-03-01T12:02:00Z"


def in_progress(**fields: Any) -> RolloutStatus:
    base: dict[str, Any] = {
        "stable_version": V1,
        "candidate_version": V2,
        "current_step": 0,
        "canary_weight": 0,
        "started_at": T1,
        "step_started_at": T2,
    }
    base.update(fields)
    return RolloutStatus(**base)


CANARY = canary_spec(steps=STEPS)
BLUE_GREEN = blue_green_spec(prePromotionAnalysis=["error-rate"], postPromotionAnalysis=["latency", "quality"])


@pytest.mark.parametrize(
    ("spec", "status", "expected"),
    [
        pytest.param(CANARY, RolloutStatus(stable_version=V1), None, id="no-candidate"),
        pytest.param(canary_spec(steps=STEPS, analysis=None), in_progress(canary_weight=20), None, id="no-analysis"),
        pytest.param(CANARY, in_progress(canary_weight=20, promote_full=True), None, id="promote-full"),
        pytest.param(CANARY, in_progress(), None, id="canary-no-traffic-yet"),
        pytest.param(CANARY, in_progress(canary_weight=20), ((), BACKGROUND, T2), id="canary-traffic"),
        pytest.param(
            CANARY,
            in_progress(current_step=1, canary_weight=20),
            (("error-rate", "quality"), BACKGROUND, T2),
            id="canary-analysis-step",
        ),
        pytest.param(
            canary_spec(steps=[{"analysis": {"metrics": ["quality"]}}, {"setWeight": 10}]),
            in_progress(),
            (("quality",), (), T2),
            id="canary-analysis-step-without-traffic",
        ),
        pytest.param(
            CANARY, in_progress(current_step=4, canary_weight=50), ((), BACKGROUND, T2), id="canary-steps-done"
        ),
        pytest.param(BLUE_GREEN, in_progress(blue_green=BlueGreenStatus()), None, id="blue-green-starting"),
        pytest.param(
            BLUE_GREEN,
            in_progress(blue_green=BlueGreenStatus(preview_ready_at=T3)),
            (("error-rate",), BACKGROUND, T3),
            id="blue-green-preview",
        ),
        pytest.param(
            BLUE_GREEN,
            in_progress(blue_green=BlueGreenStatus(preview_ready_at=T2, promoted_at=T3)),
            (("latency", "quality"), BACKGROUND, T3),
            id="blue-green-switched",
        ),
        pytest.param(
            blue_green_spec(),
            in_progress(blue_green=BlueGreenStatus(preview_ready_at=T3)),
            ((), BACKGROUND, T3),
            id="blue-green-no-step-analysis",
        ),
    ],
)
def test_analysis_scope(spec: Any, status: RolloutStatus, expected: tuple[Any, ...] | None) -> None:
    scope = analysis_scope(spec, status, OBSERVED)
    if expected is None:
        assert scope is None
        return
    step_metrics, background, step_since = expected
    assert scope == AnalysisScope(
        version=V2,
        version_label="1.1.0",
        stable_version=V1,
        stable_label="1.0.0",
        step_metrics=step_metrics,
        background_metrics=background,
        traffic_since=T1,
        step_since=step_since,
    )
    assert scope.active


def test_scope_labels_come_from_the_deployment_when_the_version_is_gone() -> None:
    observed = Observed(
        deployments={V2: DeploymentState(version=V2, name="chat-1.1.0", label="1.1.0", replicas=1, ready=1)},
    )
    scope = analysis_scope(CANARY, in_progress(canary_weight=20), observed)
    assert scope is not None
    assert (scope.version_label, scope.stable_label) == ("1.1.0", None)
    assert analysis_scope(CANARY, in_progress(canary_weight=20), Observed()) is None


def test_scope_follows_a_driven_canary() -> None:
    driver = new_driver(canary_spec(steps=STEPS), analysis=steps_pass)
    driver.run_until(lambda d: d.status.phase == "Paused")
    kinds = []
    for scope in driver.scopes:
        kind = None if scope is None else (scope.step_metrics, scope.background_metrics)
        if not kinds or kinds[-1] != kind:
            kinds.append(kind)
    assert kinds == [
        None,  # the candidate has no traffic yet
        ((), BACKGROUND),  # weight 20
        (("error-rate", "quality"), BACKGROUND),  # the analysis step
        ((), BACKGROUND),  # weight 50 and the pause
    ]


@pytest.mark.parametrize("point", sorted(ROLLBACK_POINTS))
def test_rollback_interrupted_before_its_status_write_is_finished(point: str) -> None:
    driver: Driver = ROLLBACK_POINTS[point]()
    driver.step(CRITICAL, persist=False)  # actions applied (registry says rejected), status lost
    assert driver.cluster.stage(V2) == "rejected"
    assert driver.status.candidate_version == V2
    driver.step(NO_ANALYSIS)  # the next pass sees no failure any more, but the decision was made
    assert driver.status.phase == "RolledBack"
    assert driver.status.candidate_version is None
    assert driver.status.rejected is not None and driver.status.rejected.reason == CRITICAL.critical_failure
    assert [h.outcome for h in driver.status.history].count("RolledBack") == 1
    driver.run_until(lambda d: d.cluster.replicas(V2) == 0 and d.service("active") == V1, max_passes=10)
