"""The first rollout (nothing to protect) and an invalid spec (nothing may change)."""

from __future__ import annotations

from typing import Any

import pytest
from fakecluster import (
    NEVER,
    Driver,
    blue_green_spec,
    canary_spec,
    mv_name,
    new_driver,
    rollout_spec,
)

from modelrollout.core.actions import EmitEvent, EnsureDeployment, SetModelVersionStage, SetServiceSelector
from modelrollout.core.machine import WAIT_REQUEUE_SECONDS

V1 = mv_name("1.0.0")
V2 = mv_name("1.1.0")

SPECS = {
    "canary": lambda target: canary_spec(target, replicas=3),
    "blue-green": lambda target: blue_green_spec(target, replicas=3),
    "blue-green-manual": lambda target: blue_green_spec(target, replicas=3, autoPromotionEnabled=False),
}
ROLES = {
    "canary": ("active", "canary"),
    "blue-green": ("active", "preview"),
    "blue-green-manual": ("active", "preview"),
}


@pytest.mark.parametrize("strategy", sorted(SPECS))
@pytest.mark.parametrize("delay", [0, 1, 3])
def test_first_rollout_goes_straight_from_initializing_to_healthy(strategy: str, delay: int) -> None:
    driver = new_driver(SPECS[strategy]("1.0.0"), stable=None, ready_after={"1.0.0": delay})
    first = driver.step()
    assert driver.status.phase == "Initializing"
    assert EnsureDeployment(V1, 3) in first.actions
    assert not any(isinstance(a, SetServiceSelector) for a in first.actions), "no Service before a ready pod"
    assert first.requeue_after == WAIT_REQUEUE_SECONDS
    assert driver.status.observed_generation == 1
    phases = [driver.status.phase]
    driver.run_until(lambda d: d.status.phase == "Healthy", max_passes=10)
    phases += [d.status.phase for d in driver.decisions[1:]]
    assert set(phases) == {"Initializing", "Healthy"}, "no canary, preview or promotion for a first version"
    status = driver.status
    assert status.stable_version == V1
    assert status.candidate_version is None
    assert status.current_step is None
    assert status.history == []
    for role in ROLES[strategy]:
        assert driver.service(role) == V1
    assert driver.cluster.stage(V1) == "production"
    assert [e.reason for e in driver.events()].count("Initialized") == 1
    driver.settle()
    assert driver.condition("Completed").status == "True"
    assert driver.condition("Progressing").status == "False"
    assert driver.condition("Available").reason == "ReplicasReady"


def test_first_version_that_never_becomes_ready_stays_initializing() -> None:
    driver = new_driver(canary_spec("1.0.0"), stable=None, ready_after={"1.0.0": NEVER})
    decision = driver.run(50)
    assert driver.status.phase == "Initializing"
    assert driver.status.stable_version is None
    assert driver.condition("Available").status == "False"
    assert decision.requeue_after == WAIT_REQUEUE_SECONDS
    assert driver.cluster.selectors == {}


def test_first_version_partly_ready_is_healthy_but_not_fully_available() -> None:
    driver = new_driver(canary_spec("1.0.0", replicas=3), stable=None)
    driver.step()
    driver.cluster.deployments[V1].pods[2].ready_at = None  # one pod never becomes ready
    decision = driver.step()
    assert driver.status.phase == "Healthy"
    assert driver.condition("Available").status == "True"
    assert driver.condition("Available").reason == "MinimumReplicasReady"
    assert decision.requeue_after == WAIT_REQUEUE_SECONDS  # keeps looking until all are ready


def test_stable_whose_version_and_deployment_are_gone_is_initialized_again() -> None:
    driver = new_driver(canary_spec("1.1.0"))
    driver.cluster.deployments.pop(V1)
    driver.cluster.model_versions.pop(V1)
    driver.check_invariants = False  # the Service selects nothing until the new version is ready
    driver.run_until(lambda d: d.status.phase == "Healthy")
    assert driver.status.stable_version == V2
    assert driver.status.history == []
    assert driver.service("active") == V2


# ------------------------------------------------------------------ invalid spec

INVALID = ("spec.strategy.canary.steps[1].analysis: metric latency is not defined",)


def _mid_canary() -> Driver:
    driver = new_driver(canary_spec(steps=[{"setWeight": 25}, {"pause": {}}]))
    driver.run_until(lambda d: d.status.phase == "Paused")
    return driver


def _preview() -> Driver:
    driver = new_driver(blue_green_spec(autoPromotionEnabled=False))
    driver.run_until(lambda d: d.status.phase == "Paused")
    return driver


START: dict[str, Any] = {
    "no-stable": lambda: new_driver(rollout_spec("1.0.0"), stable=None),
    "healthy": lambda: new_driver(canary_spec("1.0.0")),
    "new-target": lambda: new_driver(canary_spec("1.1.0")),
    "mid-canary": _mid_canary,
    "blue-green-preview": _preview,
}


@pytest.mark.parametrize("start", sorted(START))
def test_invalid_spec_is_degraded_and_touches_nothing(start: str) -> None:
    driver: Driver = START[start]()
    selectors = {k: dict(v) for k, v in driver.cluster.selectors.items()}
    replicas = {v: d.replicas for v, d in driver.cluster.deployments.items()}
    status_before = driver.status.model_copy(deep=True)
    driver.invalid = INVALID
    driver.generation += 1
    decisions = [driver.step() for _ in range(3)]
    for decision in decisions:
        assert not any(
            isinstance(a, EnsureDeployment | SetServiceSelector | SetModelVersionStage) for a in decision.actions
        )
    assert driver.cluster.selectors == selectors
    assert {v: d.replicas for v, d in driver.cluster.deployments.items()} == replicas
    status = driver.status
    assert status.phase == "Degraded"
    assert INVALID[0] in (status.message or "")
    assert status.observed_generation == driver.generation
    invalid = driver.condition("InvalidSpec")
    assert (invalid.status, invalid.reason, invalid.message) == ("True", "InvalidSpec", INVALID[0])
    assert invalid.observed_generation == driver.generation
    # progress is untouched
    assert status.stable_version == status_before.stable_version
    assert status.candidate_version == status_before.candidate_version
    assert status.current_step == status_before.current_step
    # one Warning event, not one per pass
    warnings = [a for d in decisions for a in d.actions if isinstance(a, EmitEvent)]
    assert warnings == [EmitEvent("Warning", "InvalidSpec", INVALID[0])]


def test_a_different_invalid_message_is_reported_again() -> None:
    driver = new_driver(canary_spec("1.0.0"))
    driver.invalid = ("first problem",)
    driver.step()
    driver.invalid = ("second problem",)
    decision = driver.step()
    assert EmitEvent("Warning", "InvalidSpec", "second problem") in decision.actions
    assert driver.condition("InvalidSpec").message == "second problem"


@pytest.mark.parametrize("start", ["healthy", "mid-canary", "new-target"])
def test_fixed_spec_clears_invalid_and_carries_on(start: str) -> None:
    driver: Driver = START[start]()
    driver.invalid = INVALID
    driver.generation += 1
    driver.run(2)
    invalid_since = driver.condition("InvalidSpec").last_transition_time
    driver.invalid = ()
    driver.generation += 1
    driver.step()
    invalid = driver.condition("InvalidSpec")
    assert invalid.status == "False"
    assert invalid.reason == "SpecValid"
    assert invalid.last_transition_time != invalid_since
    assert driver.status.phase != "Degraded"
    if start == "healthy":
        assert driver.status.phase == "Healthy"


def test_control_sent_while_invalid_is_handled_once_the_spec_is_fixed() -> None:
    driver = _mid_canary()
    driver.invalid = INVALID
    driver.send("abort")
    driver.run(2)
    assert driver.status.candidate_version == V2
    assert driver.status.last_handled_control is None
    driver.invalid = ()
    driver.step()
    assert driver.status.phase == "RolledBack"
    assert driver.status.last_handled_control == driver.control


def test_first_version_past_the_deadline_is_degraded_and_still_awaited() -> None:
    spec = canary_spec("1.0.0")
    spec.progress_deadline_seconds = 5
    driver = new_driver(spec, stable=None, ready_after={"1.0.0": NEVER})
    driver.run(30)
    assert driver.status.phase == "Degraded"
    assert driver.condition("Progressing").reason == "ProgressDeadlineExceeded"
    assert [e.reason for e in driver.events()].count("ProgressDeadlineExceeded") == 1
    assert driver.cluster.selectors == {}, "still no Service on a version without ready pods"
    assert driver.cluster.deployments[V1].replicas == spec.replicas, "the version is kept, not scaled down"


def test_first_target_replaced_before_ready_is_scaled_down() -> None:
    driver = new_driver(canary_spec("1.0.0"), stable=None, ready_after={"1.0.0": NEVER, "1.1.0": 0})
    driver.run(5)
    assert driver.status.phase == "Initializing"
    driver.set_target("1.1.0")
    driver.run_until(lambda d: d.status.phase == "Healthy", max_passes=10)
    driver.settle()
    assert driver.status.stable_version == V2
    assert driver.service("active") == V2
    assert driver.cluster.deployments[V1].replicas == 0
