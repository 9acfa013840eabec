"""Emergency stop: all traffic to stable in the pass that reads it, skipping steps and delays; holds until resume."""

from __future__ import annotations

from typing import Any

import pytest
from fakecluster import Driver, blue_green_spec, canary_spec, mv_name, new_driver, steps_wait

from modelrollout.core.actions import EnsureDeployment, SetModelVersionStage

V1 = mv_name("1.0.0")
V2 = mv_name("1.1.0")
V3 = mv_name("1.2.0")

STEPS: list[dict[str, Any]] = [{"setWeight": 25}, {"pause": {"duration": "1m"}}, {"setWeight": 75}, {"pause": {}}]


def at(condition: Any, spec: Any = None, **kwargs: Any) -> Driver:
    driver = new_driver(spec or canary_spec(steps=STEPS), analysis=steps_wait, **kwargs)
    driver.run_until(condition, max_passes=60)
    return driver


STOP_POINTS = {
    "weight-25": lambda: at(lambda d: d.status.current_step == 1),
    "weight-75": lambda: at(lambda d: d.status.current_step == 3),
    "blue-green-preview": lambda: at(lambda d: d.status.phase == "Paused", blue_green_spec(autoPromotionEnabled=False)),
    "blue-green-switched": lambda: at(
        lambda d: d.status.phase == "Promoting", blue_green_spec(postPromotionAnalysis=["error-rate"])
    ),
}


@pytest.mark.parametrize("point", sorted(STOP_POINTS))
def test_stop_sends_all_traffic_to_stable_in_one_pass_and_holds(point: str) -> None:
    driver: Driver = STOP_POINTS[point]()
    assert driver.status.candidate_version == V2
    driver.send("stop")
    decision = driver.step()
    status = driver.status
    # the pass that reads the stop points every Service at the stable version
    for role in ("active", "canary", "preview"):
        assert driver.service(role) in (V1, None), role
    assert status.phase == "Paused"
    assert status.candidate_version is None
    assert status.emergency_stop is not None and status.emergency_stop.stopped_version == V2
    assert status.history[-1].outcome == "Stopped"
    assert status.rejected is None  # a stop is no verdict on the candidate
    assert SetModelVersionStage(V2, "staging", "emergency stop") in decision.actions
    assert driver.condition("Paused").reason == "EmergencyStop"
    assert [e.reason for e in driver.events("EmergencyStop")] == ["EmergencyStop"]
    # it drains, and holds: hours passing, a new target or a resume of the
    # rollout's own pause do not move traffic while the stop is in force
    driver.run_until(lambda d: d.cluster.replicas(V2) == 0, max_passes=5)
    assert driver.cluster.replicas(V1) == driver.spec.replicas
    driver.advance(7200)
    driver.set_target("1.2.0")
    driver.run(10)
    assert driver.status.phase == "Paused"
    assert driver.status.candidate_version is None
    assert driver.cluster.replicas(V3) == 0
    assert not any(
        isinstance(a, EnsureDeployment) and a.replicas > 0 and a.version != V1 for a in driver.all_actions()[-30:]
    )
    # resume lifts it: the target rolls out again from its first step
    driver.send("resume")
    driver.step()
    assert driver.status.emergency_stop is None
    assert driver.status.candidate_version == V3
    assert driver.status.current_step == 0


def test_stop_when_idle_holds_new_targets_until_resume() -> None:
    driver = new_driver(canary_spec(steps=STEPS), analysis=steps_wait)
    driver.send("stop")
    driver.step()
    assert driver.status.phase == "Paused"
    assert driver.status.history == []
    driver.set_target("1.1.0")
    driver.run(5)
    assert driver.status.candidate_version is None
    assert driver.service("active") == V1
    driver.send("resume")
    driver.step()
    assert driver.status.candidate_version == V2


def test_stop_is_acted_on_once() -> None:
    driver = STOP_POINTS["weight-25"]()
    driver.send("stop")
    driver.step()
    driver.send("resume")
    driver.step()
    assert driver.status.candidate_version == V2
    # the resume annotation stays set; passes go on without stopping again
    driver.run(5)
    assert driver.status.emergency_stop is None
    assert [h.outcome for h in driver.status.history] == ["Stopped"]


def test_stop_before_any_version_serves_only_holds() -> None:
    driver = new_driver(canary_spec(steps=STEPS), stable=None)
    driver.send("stop")
    decision = driver.step()
    assert driver.status.phase == "Paused"
    assert "no stable version yet" in (driver.status.message or "")
    assert not any(isinstance(a, EnsureDeployment) for a in decision.actions)
