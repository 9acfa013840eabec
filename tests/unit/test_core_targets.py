"""spec.targetVersion changing under a rollout: superseded, cancelled, undo; and the progress deadline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fakecluster import NEVER, Driver, blue_green_spec, canary_spec, mv_name, new_driver, steps_wait

from modelrollout.api.common import parse_time
from modelrollout.core.actions import EnsureDeployment, SetModelVersionStage

V1 = mv_name("1.0.0")
V2 = mv_name("1.1.0")
V3 = mv_name("1.2.0")

STEPS: list[dict[str, Any]] = [{"setWeight": 25}, {"pause": {"duration": "20s"}}, {"setWeight": 75}, {"pause": {}}]

IN_FLIGHT = {
    "canary-starting": (canary_spec(steps=STEPS), lambda d: d.status.candidate_version is not None),
    "canary-weight-25": (canary_spec(steps=STEPS), lambda d: d.status.current_step == 1),
    "canary-weight-75": (canary_spec(steps=STEPS), lambda d: d.status.current_step == 3),
    "blue-green-preview": (blue_green_spec(autoPromotionEnabled=False), lambda d: d.status.phase == "Paused"),
    "blue-green-switched": (
        blue_green_spec(postPromotionAnalysis=["error-rate"]),
        lambda d: d.status.phase == "Promoting",
    ),
}


def in_flight(name: str, **kwargs: Any) -> Driver:
    spec, reached = IN_FLIGHT[name]
    driver = new_driver(spec, analysis=steps_wait, **kwargs)
    driver.run_until(reached, max_passes=40)
    assert driver.status.candidate_version == V2
    return driver


@pytest.mark.parametrize("point", sorted(IN_FLIGHT))
@pytest.mark.parametrize("new_ready_after", [0, 3, NEVER])
def test_new_target_mid_rollout_supersedes_the_candidate(point: str, new_ready_after: int | None) -> None:
    driver = in_flight(point, ready_after={"1.2.0": new_ready_after})
    driver.spec = driver.spec.model_copy(update={"progress_deadline_seconds": 10_000})
    driver.set_target("1.2.0")
    decision = driver.step()
    status = driver.status
    assert status.candidate_version == V3
    assert status.current_step == 0
    assert status.stable_version == V1
    assert status.history[-1].version == V2
    assert status.history[-1].outcome == "Superseded"
    assert status.history[-1].reason == f"targetVersion changed to {V3}"
    assert status.rejected is None
    assert SetModelVersionStage(V2, "staging", f"targetVersion changed to {V3}") in decision.actions
    assert SetModelVersionStage(V3, "candidate", "rolled out by chat") in decision.actions
    assert status.started_at == status.step_started_at
    # the old candidate leaves every Service and then scales to zero; stable keeps serving
    driver.run_until(lambda d: d.cluster.replicas(V2) == 0, max_passes=10)
    for role in ("active", "canary", "preview"):
        assert driver.service(role) != V2
    assert driver.cluster.stage(V2) == "staging"
    if new_ready_after is not None:
        driver.send("promote")
        driver.run_until(lambda d: d.status.phase in ("Paused", "Promoting", "Healthy"), max_passes=20)
        assert driver.status.candidate_version in (V3, None)


@pytest.mark.parametrize("point", sorted(IN_FLIGHT))
def test_target_set_back_to_stable_cancels_the_rollout(point: str) -> None:
    driver = in_flight(point)
    driver.set_target("1.0.0")
    decision = driver.step()
    status = driver.status
    assert status.phase == "Healthy"
    assert status.candidate_version is None
    assert status.current_step is None
    assert status.history[-1].outcome == "Cancelled"
    assert status.rejected is None
    assert SetModelVersionStage(V2, "staging", "targetVersion set back to the stable version") in decision.actions
    driver.settle()
    assert driver.cluster.replicas(V2) == 0
    assert driver.cluster.replicas(V1) == driver.spec.replicas
    assert driver.service("active") == V1
    assert driver.condition("Completed").status == "True"


def test_rejected_target_stays_rejected_until_something_changes() -> None:
    driver = in_flight("canary-weight-25")
    driver.send("abort")
    driver.run(30)
    assert driver.status.phase == "RolledBack"
    assert driver.status.history[-1].outcome == "Aborted"
    # another target is rolled out normally, and the rejection no longer applies
    driver.set_target("1.2.0")
    driver.step()
    assert driver.status.candidate_version == V3
    assert driver.status.rejected is None


def test_undo_to_the_previous_stable_reuses_its_running_pods() -> None:
    driver = new_driver(canary_spec(steps=[{"setWeight": 50}], scaleDownDelaySeconds=600))
    driver.run_until(lambda d: d.status.phase == "Healthy")
    assert driver.status.pending_scale_downs[0].version == V1
    assert driver.cluster.replicas(V1) == 2  # what it had at weight 50
    driver.set_target("1.0.0")  # undo
    driver.step()
    assert driver.status.candidate_version == V1
    assert driver.status.stable_version == V2
    assert driver.status.pending_scale_downs == []
    driver.run_until(lambda d: d.status.phase == "Healthy")
    assert driver.status.stable_version == V1
    assert not any(isinstance(a, EnsureDeployment) and a.version == V1 and a.replicas < 1 for a in driver.all_actions())


# ------------------------------------------------------------------ progress deadline

DEADLINE = 120

NEVER_READY = {
    "canary": canary_spec(steps=[{"setWeight": 25}, {"pause": {}}], progressDeadlineSeconds=DEADLINE),
    "blue-green": blue_green_spec(spec={"progressDeadlineSeconds": DEADLINE}),
}


@pytest.mark.parametrize("strategy", sorted(NEVER_READY))
def test_candidate_that_never_becomes_ready_is_aborted_at_the_deadline(strategy: str) -> None:
    driver = new_driver(NEVER_READY[strategy], ready_after={"1.1.0": NEVER})
    driver.step()
    started = driver.status.started_at
    assert started is not None
    driver.run_until(lambda d: d.status.phase == "RolledBack", max_passes=100)
    aborted_at = driver.now - timedelta(seconds=driver.tick)
    elapsed = (aborted_at - parse_time(started)).total_seconds()
    assert DEADLINE < elapsed <= DEADLINE + driver.tick
    status = driver.status
    assert status.history[-1].outcome == "Aborted"
    assert status.history[-1].reason.startswith("ProgressDeadlineExceeded")
    assert status.rejected is not None and status.rejected.reason.startswith("ProgressDeadlineExceeded")
    assert driver.cluster.stage(V2) == "rejected"
    assert driver.service("active") == V1
    driver.run_until(lambda d: d.cluster.replicas(V2) == 0, max_passes=5)
    driver.run(20)
    assert driver.status.phase == "RolledBack"


def test_candidate_ready_just_before_the_deadline_is_not_aborted() -> None:
    passes_to_ready = DEADLINE // 5 - 3
    driver = new_driver(NEVER_READY["canary"], ready_after={"1.1.0": passes_to_ready})
    driver.run_until(lambda d: d.status.phase == "Paused", max_passes=100)
    assert driver.status.history == []


def test_deadline_counts_from_the_last_progress_not_the_start() -> None:
    steps: list[dict[str, Any]] = [{"setWeight": w} for w in (10, 20, 30, 40, 50, 60, 70, 80, 90)]
    spec = canary_spec(steps=steps, replicas=10, progressDeadlineSeconds=30)
    driver = new_driver(spec, ready_after={"1.1.0": 2})
    driver.run_until(lambda d: d.status.phase == "Healthy", max_passes=200)
    assert driver.status.history[-1].outcome == "Promoted"


def test_pods_that_stop_becoming_ready_mid_rollout_hit_the_deadline() -> None:
    driver = new_driver(
        canary_spec(steps=[{"setWeight": 25}, {"setWeight": 75}], progressDeadlineSeconds=DEADLINE),
    )
    driver.run_until(lambda d: d.status.current_step == 1)
    driver.cluster.ready_after[V2] = NEVER  # the extra pods for 75 % never become ready
    driver.run_until(lambda d: d.status.phase == "RolledBack", max_passes=100)
    assert driver.status.history[-1].reason.startswith("ProgressDeadlineExceeded")
    driver.run_until(lambda d: d.cluster.replicas(V2) == 0, max_passes=5)
    assert driver.cluster.replicas(V1) == 4


def test_promote_full_with_pods_that_never_become_ready_hits_the_deadline() -> None:
    driver = new_driver(canary_spec(steps=[{"setWeight": 25}, {"pause": {}}], progressDeadlineSeconds=DEADLINE))
    driver.run_until(lambda d: d.status.phase == "Paused")
    driver.cluster.ready_after[V2] = NEVER
    driver.send("promote-full")
    driver.run_until(lambda d: d.status.phase == "RolledBack", max_passes=100)
    assert driver.status.history[-1].outcome == "Aborted"
    # The candidate's one ready pod keeps its share until the stable version is back at full size.
    driver.run_until(lambda d: d.status.rollback_drain is None, max_passes=10)
    assert driver.cluster.ready(V1) == 4
    assert driver.service("active") == V1


def test_back_to_back_rollouts_wait_for_the_previous_stable_without_hitting_the_deadline() -> None:
    # The version promoted before last is kept for 15 minutes (fast undo); the next canary cannot
    # put both versions behind the stable Service until it is gone, and that is not a stall.
    spec = canary_spec(steps=[{"setWeight": 50}], scaleDownDelaySeconds=900, progressDeadlineSeconds=600)
    driver = new_driver(spec)
    driver.run_until(lambda d: d.status.phase == "Healthy")
    driver.set_target("1.2.0")
    driver.run(10)
    assert driver.service("active") == V2, "no selector over every version while 1.0.0 still has pods"
    assert driver.status.message == "step 1/1: waiting for older versions to scale down"
    driver.run_until(lambda d: d.status.phase in ("Healthy", "RolledBack"), max_passes=400)
    assert driver.status.history[-1].outcome == "Promoted"
    assert driver.status.stable_version == V3


def test_services_left_from_another_strategy_follow_the_stable_version() -> None:
    driver = new_driver(blue_green_spec("1.0.0"))
    assert driver.service("preview") == V1
    driver.edit(strategy={"canary": {"steps": [{"setWeight": 50}], "scaleDownDelaySeconds": 0}}, targetVersion=V2)
    driver.run_until(lambda d: d.status.phase == "Healthy")
    driver.settle()
    assert driver.service("preview") == V2
    assert driver.cluster.replicas(V1) == 0, "the old preview selector does not keep 1.0.0 running"
    assert driver.status.pending_scale_downs == []
