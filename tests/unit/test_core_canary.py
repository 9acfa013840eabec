"""Canary rollouts end to end against the fake cluster: weights, pauses, analysis steps, promotion."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fakecluster import (
    Driver,
    canary_spec,
    mv_name,
    new_driver,
    steps_pass,
    steps_wait,
)

from modelrollout.core.actions import EmitEvent
from modelrollout.routing.replicas import split_replicas

V1 = mv_name("1.0.0")
V2 = mv_name("1.1.0")


def step_done(driver: Driver, index: int) -> bool:
    return (driver.status.current_step or 0) > index or driver.status.candidate_version is None


def min_active_capacity(driver: Driver) -> int:
    return min(served.get(driver.name, 0) for served in driver.cluster.served)


@pytest.mark.parametrize("replicas", [1, 2, 3, 4, 10])
@pytest.mark.parametrize("delay", [0, 2])
@pytest.mark.parametrize(
    "weights",
    [[25, 50, 75], [10, 100], [1, 99], [50], [100], [30, 0, 60]],
    ids=lambda w: "-".join(map(str, w)),
)
def test_each_set_weight_step_reaches_its_replica_split(replicas: int, delay: int, weights: list[int]) -> None:
    steps = [{"setWeight": w} for w in weights]
    driver = new_driver(canary_spec(steps=steps, replicas=replicas), ready_after={"1.1.0": delay})
    for index, weight in enumerate(weights):
        driver.run_until(lambda d, i=index: step_done(d, i), max_passes=30)
        want_candidate, want_stable = split_replicas(replicas, weight)
        assert driver.cluster.replicas(V2) == want_candidate, (index, weight)
        assert driver.cluster.replicas(V1) == want_stable, (index, weight)
        assert driver.cluster.ready(V2) == want_candidate
        assert driver.status.canary_weight == weight
        if want_candidate:
            assert driver.service("active") == "*", "both versions behind the stable Service"
            assert driver.service("canary") == V2
        else:
            assert driver.service("active") == V1
            assert driver.service("canary") == V1
        assert driver.status.phase == "Progressing"
    driver.run_until(lambda d: d.status.phase == "Healthy", max_passes=30)
    assert driver.status.stable_version == V2
    # grow first: what the stable Service serves never drops below the replicas asked for
    assert min_active_capacity(driver) >= replicas


def test_step_order_and_events_of_a_full_canary() -> None:
    steps: list[dict[str, Any]] = [
        {"setWeight": 20},
        {"pause": {"duration": "30s"}},
        {"analysis": {"metrics": ["error-rate"]}},
        {"setWeight": 60},
        {"pause": {}},
    ]
    driver = new_driver(canary_spec(steps=steps, replicas=5), analysis=steps_pass)
    seen_steps: list[int] = []
    for _ in range(100):
        driver.step()
        if driver.status.phase == "Paused" and driver.status.pause_reason == "step 5/5: paused until promoted":
            break
        if driver.status.current_step is not None and driver.status.current_step not in seen_steps:
            seen_steps.append(driver.status.current_step)
    assert seen_steps == [0, 1, 2, 3, 4]
    assert driver.status.current_step == 4
    driver.send("promote")
    driver.run_until(lambda d: d.status.phase == "Healthy")
    completed = [e.message for e in driver.events("StepCompleted")]
    assert completed == [
        "step 1/5: weight 20% reached",
        "step 2/5: pause of 30s done",
        "step 3/5: analysis passed",
        "step 4/5: weight 60% reached",
        "step 5/5 skipped by promote",
    ]
    reasons = [e.reason for e in driver.events()]
    assert reasons[0] == "RolloutStarted"
    assert reasons.count("Promoted") == 1
    assert reasons.count("Paused") == 1, "one Paused event per pause, not one per pass"
    assert driver.status.history[-1].version == V2
    assert driver.status.history[-1].outcome == "Promoted"
    assert driver.status.history[-1].reason == "all steps and analysis passed"


@pytest.mark.parametrize(("duration", "seconds"), [("30s", 30), ("1m", 60), ("1m30s", 90), ("2s", 2)])
@pytest.mark.parametrize("tick", [1, 5, 7])
def test_pause_with_duration_holds_until_the_clock_passes_it(duration: str, seconds: int, tick: int) -> None:
    driver = new_driver(
        canary_spec(steps=[{"setWeight": 25}, {"pause": {"duration": duration}}, {"setWeight": 50}]),
        tick=tick,
    )
    driver.run_until(lambda d: step_done(d, 0))
    started = driver.now - timedelta(seconds=tick)  # the pass that advanced to the pause ran then
    while not step_done(driver, 1):
        before = driver.now
        decision = driver.step()
        elapsed = (before - started).total_seconds()
        if driver.status.current_step == 1:
            assert elapsed < seconds, "held past its duration"
            assert driver.status.phase == "Progressing"
            assert decision.requeue_after == pytest.approx(seconds - elapsed)
            # the weight is held
            assert driver.cluster.replicas(V2) == 1
        else:
            assert elapsed >= seconds, "advanced before its duration"
            assert elapsed < seconds + tick
    assert driver.events("StepCompleted")[-1].message == f"step 2/3: pause of {duration} done"


def test_pause_without_duration_holds_until_promote() -> None:
    driver = new_driver(canary_spec(steps=[{"setWeight": 25}, {"pause": {}}, {"setWeight": 75}]))
    driver.run_until(lambda d: d.status.phase == "Paused")
    decision = driver.run(60)
    assert driver.status.current_step == 1
    assert driver.status.phase == "Paused"
    assert driver.condition("Paused").status == "True"
    assert driver.condition("Paused").reason == "CanaryPauseStep"
    assert decision.requeue_after is None, "nothing to wait for but a promote"
    assert len(driver.events("Paused")) == 1, "one Paused event, not one per pass"
    assert driver.cluster.replicas(V2) == 1
    driver.send("promote")
    driver.step()
    assert driver.status.current_step == 2
    assert driver.status.phase == "Progressing"
    assert driver.condition("Paused").status == "False"
    driver.run_until(lambda d: d.status.phase == "Healthy")
    assert driver.status.stable_version == V2


@pytest.mark.parametrize(
    ("steps", "at_step", "expected_step"),
    [
        pytest.param([{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}], 1, 2, id="pause-skipped"),
        pytest.param(
            [{"setWeight": 25}, {"pause": {"duration": "1h"}}, {"setWeight": 50}],
            1,
            2,
            id="timed-pause-skipped",
        ),
        pytest.param(
            [{"setWeight": 25}, {"analysis": {"metrics": ["error-rate"]}}, {"setWeight": 50}],
            1,
            2,
            id="analysis-skipped",
        ),
    ],
)
def test_promote_moves_past_the_current_pause_or_analysis_step(
    steps: list[dict[str, Any]], at_step: int, expected_step: int
) -> None:
    driver = new_driver(canary_spec(steps=steps), analysis=steps_wait)
    driver.run_until(lambda d: d.status.current_step == at_step)
    driver.run(3)
    assert driver.status.current_step == at_step
    driver.send("promote")
    driver.step()
    assert driver.status.current_step == expected_step
    driver.run(20)  # the same annotation value again does nothing more
    skips = [e for e in driver.events("StepCompleted") if "skipped by promote" in e.message]
    assert len(skips) == (1 if expected_step != at_step else 0)


def test_promote_on_a_set_weight_step_does_not_skip_it() -> None:
    driver = new_driver(canary_spec(steps=[{"setWeight": 50}, {"pause": {}}]), ready_after={"1.1.0": 3})
    driver.step()
    driver.send("promote")
    driver.step()
    assert driver.status.current_step == 0
    assert EmitEvent("Normal", "Control", "promote requested") in driver.decisions[-1].actions
    driver.run_until(lambda d: d.status.phase == "Paused")
    assert driver.status.current_step == 1


@pytest.mark.parametrize("at_step", [0, 1, 2])
@pytest.mark.parametrize("replicas", [1, 4])
def test_promote_full_skips_remaining_steps_to_a_full_candidate(at_step: int, replicas: int) -> None:
    steps: list[dict[str, Any]] = [
        {"setWeight": 25},
        {"pause": {"duration": "10s"}},
        {"analysis": {"metrics": ["error-rate"]}},
    ]
    driver = new_driver(canary_spec(steps=steps, replicas=replicas), analysis=steps_wait)
    driver.run_until(lambda d: d.status.current_step == at_step, max_passes=10)
    driver.send("promote-full")
    driver.step()
    assert driver.status.promote_full or driver.status.phase == "Healthy"
    driver.run_until(lambda d: d.status.phase == "Healthy", max_passes=20)
    assert driver.status.stable_version == V2
    assert driver.status.promote_full is False
    assert driver.status.history[-1].reason == "promoted with --full"
    assert driver.cluster.replicas(V2) == replicas
    assert driver.service("active") == V2
    assert driver.service("canary") == V2
    assert min_active_capacity(driver) >= replicas


@pytest.mark.parametrize("delay", [0, 30, 45, 120])
def test_old_stable_scales_to_zero_only_after_the_scale_down_delay(delay: int) -> None:
    driver = new_driver(canary_spec(steps=[{"setWeight": 50}], scaleDownDelaySeconds=delay))
    driver.run_until(lambda d: d.status.phase == "Healthy")
    promoted_at = driver.now - timedelta(seconds=driver.tick)
    assert driver.status.pending_scale_downs[0].version == V1
    while driver.cluster.replicas(V1) > 0:
        before = driver.now
        driver.step()
        if driver.cluster.replicas(V1) == 0:
            assert (before - promoted_at).total_seconds() >= delay
        else:
            assert (before - promoted_at).total_seconds() < delay + 2 * driver.tick
        assert driver.status.phase == "Healthy"
    assert driver.status.pending_scale_downs == []
    assert [e.message for e in driver.events("ScaledDown")] == [f"{V1} scaled to 0"]
    assert driver.cluster.stage(V1) == "deprecated"
    assert driver.cluster.stage(V2) == "production"


def test_steps_before_any_weight_run_the_candidate_with_no_pods() -> None:
    driver = new_driver(canary_spec(steps=[{"pause": {}}, {"setWeight": 50}]))
    driver.run_until(lambda d: d.status.phase == "Paused")
    assert driver.cluster.replicas(V2) == 0
    assert driver.service("canary") == V1
    assert driver.service("active") == V1
    assert driver.status.canary_weight == 0


def test_weight_back_to_zero_drains_the_candidate_after_the_services_moved() -> None:
    driver = new_driver(canary_spec(steps=[{"setWeight": 50}, {"setWeight": 0}, {"pause": {}}]))
    driver.run_until(lambda d: d.status.phase == "Paused")
    assert driver.cluster.replicas(V2) == 0
    assert driver.service("active") == V1
    assert driver.service("canary") == V1
    assert driver.status.canary_weight == 0


def test_canary_weight_counts_the_candidate_only_once_the_stable_service_selects_it() -> None:
    driver = new_driver(canary_spec(steps=[{"setWeight": 25}, {"pause": {}}]))
    weights = []
    for _ in range(6):
        driver.step()
        serving = driver.service("active") == "*"
        weights.append((driver.status.canary_weight, serving))
    for weight, _serving in weights:
        assert weight in (0, 20, 25)
    assert weights[0][0] == 0
    assert weights[-1] == (25, True)


def test_spec_paused_holds_the_current_weight() -> None:
    driver = new_driver(canary_spec(steps=[{"setWeight": 25}, {"setWeight": 50}]))
    driver.run_until(lambda d: step_done(d, 0))
    driver.edit(paused=True)
    driver.run(30)
    assert driver.status.phase == "Paused"
    assert driver.status.pause_reason == "spec.paused is true"
    assert driver.condition("Paused").reason == "PausedByUser"
    assert driver.status.current_step == 1
    assert driver.cluster.replicas(V2) == 1
    driver.edit(paused=False)
    driver.run_until(lambda d: d.status.phase == "Healthy")
    assert driver.status.stable_version == V2


def test_candidate_pods_failing_take_the_canary_service_back_to_stable() -> None:
    driver = new_driver(canary_spec(steps=[{"setWeight": 25}, {"pause": {}}]))
    driver.run_until(lambda d: d.status.phase == "Paused")
    assert driver.service("canary") == V2
    driver.cluster.make_unready(V2)
    driver.step()
    assert driver.service("canary") == V1
    assert driver.service("active") == V1
    assert driver.status.canary_weight == 0


def test_a_completed_step_asks_for_the_next_pass_at_once() -> None:
    """The step after a finished one (a weight change after a pause) is not delayed by a requeue."""
    driver = new_driver(canary_spec(steps=[{"setWeight": 25}, {"pause": {"duration": "2s"}}, {"setWeight": 50}]))
    driver.run_until(lambda d: step_done(d, 0))
    decision = driver.step()
    while not step_done(driver, 1):
        decision = driver.step()
    assert decision.requeue_after == 0.0
