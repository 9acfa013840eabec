"""Imperative controls: abort, retry, pause, resume, promote; each annotation value acts once."""

from __future__ import annotations

from typing import Any

import pytest
from fakecluster import Driver, blue_green_spec, canary_spec, mv_name, new_driver, steps_wait

from modelrollout.core.actions import EmitEvent, EnsureDeployment, SetModelVersionStage

V1 = mv_name("1.0.0")
V2 = mv_name("1.1.0")

STEPS: list[dict[str, Any]] = [
    {"setWeight": 25},
    {"pause": {"duration": "1m"}},
    {"setWeight": 100},
    {"pause": {}},
]


def at(condition: Any, spec: Any = None, **kwargs: Any) -> Driver:
    driver = new_driver(spec or canary_spec(steps=STEPS), **kwargs)
    driver.run_until(condition, max_passes=60)
    return driver


# Where a rollout can be when a user aborts it.
ABORT_POINTS = {
    "candidate-starting": lambda: at(lambda d: d.status.candidate_version is not None, ready_after={"1.1.0": 3}),
    "weight-25": lambda: at(lambda d: d.status.current_step == 1),
    "weight-100-stable-at-zero": lambda: at(lambda d: d.status.current_step == 3),
    "blue-green-preview": lambda: at(lambda d: d.status.phase == "Paused", blue_green_spec(autoPromotionEnabled=False)),
    "blue-green-switched": lambda: at(
        lambda d: d.status.phase == "Promoting", blue_green_spec(postPromotionAnalysis=["error-rate"])
    ),
}


@pytest.mark.parametrize("point", sorted(ABORT_POINTS))
def test_abort_returns_traffic_to_stable_and_rejects_the_candidate(point: str) -> None:
    driver: Driver = ABORT_POINTS[point]()
    assert driver.status.candidate_version == V2
    driver.send("abort")
    decision = driver.step()
    status = driver.status
    assert status.phase == "RolledBack"
    assert status.candidate_version is None
    assert status.stable_version == V1
    assert status.rejected is not None
    assert (status.rejected.version, status.rejected.generation) == (V2, driver.generation)
    assert status.rejected.reason == "aborted by user"
    assert status.history[-1].outcome == "Aborted"
    assert status.last_handled_control == driver.control
    assert SetModelVersionStage(V2, "rejected", "aborted by user") in decision.actions
    assert driver.cluster.stage(V2) == "rejected"
    assert EmitEvent("Warning", "Aborted", f"{V2}: aborted by user") in decision.actions
    # all traffic back on stable once it has ready pods; the candidate drains after the switch
    driver.run_until(lambda d: d.cluster.replicas(V2) == 0 and d.service("active") == V1, max_passes=10)
    for role in ("active", "canary", "preview"):
        assert driver.service(role) in (V1, None)
    assert driver.cluster.replicas(V1) == driver.spec.replicas
    # it stays rolled back: no flapping, no fight with Git
    stages_before = dict(driver.cluster.stages)
    driver.run(40)
    assert driver.status.phase == "RolledBack"
    assert driver.cluster.replicas(V2) == 0
    assert driver.cluster.stages == stages_before
    for later in driver.decisions[-40:]:
        assert not any(isinstance(a, EnsureDeployment) and a.version == V2 and a.replicas > 0 for a in later.actions)
        assert not any(isinstance(a, SetModelVersionStage) for a in later.actions)
    assert [h.outcome for h in driver.status.history] == ["Aborted"]


@pytest.mark.parametrize("how", ["retry", "generation-change"])
def test_rejected_target_is_tried_again_after_retry_or_a_spec_change(how: str) -> None:
    driver = ABORT_POINTS["weight-25"]()
    driver.send("abort")
    driver.run(5)
    assert driver.status.phase == "RolledBack"
    if how == "retry":
        driver.send("retry")
    else:
        driver.edit(progressDeadlineSeconds=900)  # any spec change is a new generation
    driver.step()
    status = driver.status
    assert status.rejected is None
    assert status.candidate_version == V2
    assert status.current_step == 0
    assert status.phase == "Progressing"
    assert driver.cluster.stage(V2) == "candidate"
    assert [e.reason for e in driver.events()].count("RolloutStarted") == 2
    driver.run_until(lambda d: d.status.current_step == 1)


def test_retry_without_a_rejection_changes_nothing() -> None:
    driver = ABORT_POINTS["weight-25"]()
    step = driver.status.current_step
    driver.send("retry")
    driver.step()
    assert driver.status.current_step == step
    assert driver.status.candidate_version == V2
    assert driver.status.last_handled_control == driver.control


@pytest.mark.parametrize("verb", ["abort", "promote", "promote-full"])
def test_controls_that_need_a_rollout_are_ignored_without_one(verb: str) -> None:
    driver = new_driver(canary_spec("1.0.0"))
    driver.send(verb)
    decision = driver.step()
    assert EmitEvent("Normal", "ControlIgnored", f"{verb}: no rollout in progress") in decision.actions
    assert driver.status.last_handled_control == driver.control
    assert driver.status.phase == "Healthy"
    assert driver.status.promote_full is False
    driver.set_target("1.1.0")  # a later rollout is not affected by the stale annotation
    driver.run(3)
    assert driver.status.candidate_version == V2
    assert driver.status.phase == "Progressing"


def test_a_control_value_acts_once_however_many_passes_see_it() -> None:
    steps: list[dict[str, Any]] = [{"setWeight": 10}, {"pause": {}}, {"setWeight": 20}, {"pause": {}}]
    driver = at(lambda d: d.status.phase == "Paused", canary_spec(steps=steps))
    driver.send("promote")
    driver.run(20)
    assert driver.status.current_step == 3, "the second pause is not skipped by the same annotation"
    assert driver.status.phase == "Paused"
    assert [e.message for e in driver.events("Control")] == ["promote requested"]
    driver.send("promote")  # a new token: a new request
    driver.run_until(lambda d: d.status.phase == "Healthy")


def test_last_handled_control_survives_promotion_so_a_restart_does_not_repeat_it() -> None:
    driver = at(lambda d: d.status.phase == "Paused", canary_spec(steps=[{"setWeight": 10}, {"pause": {}}]))
    driver.send("promote")
    driver.run_until(lambda d: d.status.phase == "Healthy")
    assert driver.status.last_handled_control == driver.control
    driver.set_target("1.2.0")
    driver.run(5)
    assert driver.status.candidate_version == mv_name("1.2.0")
    assert len(driver.events("Control")) == 1


@pytest.mark.parametrize("value", ["", "explode/1", "promote", "PROMOTE/1"])
def test_malformed_control_values_do_nothing(value: str) -> None:
    driver = at(lambda d: d.status.phase == "Paused", canary_spec(steps=[{"setWeight": 10}, {"pause": {}}]))
    driver.control = value
    driver.run(3)
    if value == "promote":  # a verb without a token is still a (single) request
        assert driver.status.current_step == 2 or driver.status.phase == "Healthy"
    else:
        assert driver.status.current_step == 1
        assert driver.status.last_handled_control is None


def test_pause_and_resume() -> None:
    driver = at(lambda d: d.status.current_step == 1, canary_spec(steps=STEPS, progressDeadlineSeconds=60))
    driver.send("pause")
    driver.step()
    assert driver.status.phase == "Paused"
    assert driver.status.paused_by_user
    assert driver.condition("Paused").reason == "PausedByUser"
    replicas = {v: d.replicas for v, d in driver.cluster.deployments.items()}
    driver.run(100)  # far past the 1m pause step and the 60s progress deadline
    assert driver.status.phase == "Paused"
    assert driver.status.current_step == 1
    assert {v: d.replicas for v, d in driver.cluster.deployments.items()} == replicas
    assert len(driver.events("Paused")) == 1
    driver.send("resume")
    driver.step()
    assert driver.status.paused_by_user is False
    assert driver.status.phase == "Progressing"
    assert driver.condition("Paused").status == "False"
    driver.run_until(lambda d: d.status.phase == "Paused")
    assert driver.status.current_step == 3
    assert driver.status.history == [], "the time paused did not count against the progress deadline"


def test_abort_while_paused_by_user_still_rolls_back() -> None:
    driver = ABORT_POINTS["weight-25"]()
    driver.send("pause")
    driver.run(3)
    driver.send("abort")
    driver.step()
    assert driver.status.phase == "RolledBack"
    driver.run_until(lambda d: d.cluster.replicas(V2) == 0)


def test_blue_green_promote_approves_the_switch() -> None:
    driver = at(lambda d: d.status.phase == "Paused", blue_green_spec(autoPromotionEnabled=False))
    driver.run(30)
    assert driver.service("active") == V1
    assert driver.service("preview") == V2
    driver.send("promote")
    driver.step()
    assert driver.service("active") == V2
    assert driver.status.phase == "Healthy"
    assert driver.status.stable_version == V2


def test_blue_green_promote_before_the_preview_is_ready_waits_for_it() -> None:
    driver = new_driver(blue_green_spec(autoPromotionEnabled=False), ready_after={"1.1.0": 4}, analysis=steps_wait)
    driver.step()
    driver.send("promote")
    driver.step()
    assert driver.service("active") == V1
    assert driver.status.blue_green is not None and driver.status.blue_green.promotion_approved
    driver.run_until(lambda d: d.status.phase == "Healthy")
    assert driver.service("active") == V2


def test_stable_deployment_deleted_while_paused_comes_back() -> None:
    driver = ABORT_POINTS["weight-25"]()
    driver.send("pause")
    driver.run(2)
    driver.cluster.delete_deployment(V1)
    driver.check_invariants = False  # the deletion itself takes the stable pods away
    driver.step()
    assert driver.cluster.replicas(V1) == driver.spec.replicas
    driver.check_invariants = True
    driver.run(5)
    assert driver.status.phase == "Paused"
    assert driver.cluster.ready(V1) == driver.spec.replicas
