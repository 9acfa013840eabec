"""ModelVersion lifecycle actions, bounded history, conditions and observedGeneration."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fakecluster import Driver, blue_green_spec, canary_spec, mv_name, new_driver, steps_wait

from modelrollout.core.actions import SetModelVersionStage
from modelrollout.core.analysis_contract import AnalysisSummary

V1 = mv_name("1.0.0")
V2 = mv_name("1.1.0")
V3 = mv_name("1.2.0")

STEPS: list[dict[str, Any]] = [{"setWeight": 50}, {"pause": {}}]


def promoted(driver: Driver) -> None:
    driver.send("promote")
    driver.run_until(lambda d: d.status.phase == "Healthy")


def aborted(driver: Driver) -> None:
    driver.send("abort")
    driver.run(3)


def rolled_back(driver: Driver) -> None:
    driver.step(AnalysisSummary(critical_failure="quality: 0.41 < 0.7"))
    driver.run(3)


def superseded(driver: Driver) -> None:
    driver.set_target("1.2.0")
    driver.run(3)


def cancelled(driver: Driver) -> None:
    driver.set_target("1.0.0")
    driver.run(3)


@pytest.mark.parametrize(
    ("end", "expected"),
    [
        pytest.param(
            promoted,
            {V1: ["production", "deprecated"], V2: ["candidate", "production"]},
            id="promoted",
        ),
        pytest.param(aborted, {V1: ["production"], V2: ["candidate", "rejected"]}, id="aborted"),
        pytest.param(rolled_back, {V1: ["production"], V2: ["candidate", "rejected"]}, id="rolled-back"),
        pytest.param(
            superseded, {V1: ["production"], V2: ["candidate", "staging"], V3: ["candidate"]}, id="superseded"
        ),
        pytest.param(cancelled, {V1: ["production"], V2: ["candidate", "staging"]}, id="cancelled"),
    ],
)
def test_model_version_stages(end: Callable[[Driver], None], expected: dict[str, list[str]]) -> None:
    driver = new_driver(canary_spec("1.0.0", steps=STEPS), stable=None)
    driver.run_until(lambda d: d.status.phase == "Healthy")
    driver.set_target("1.1.0")
    driver.run_until(lambda d: d.status.phase == "Paused")
    end(driver)
    driver.run(5)
    assert {v: [stage for stage, _ in changes] for v, changes in driver.cluster.stages.items()} == expected
    reasons = {v: changes[-1][1] for v, changes in driver.cluster.stages.items()}
    if end is promoted:
        assert reasons[V1] == f"replaced by {V2}"
        assert reasons[V2] == "promoted by chat"
    if end is rolled_back:
        assert reasons[V2] == "quality: 0.41 < 0.7"


def test_stage_actions_only_for_versions_that_exist() -> None:
    driver = new_driver(canary_spec(steps=STEPS))
    driver.run_until(lambda d: d.status.phase == "Paused")
    del driver.cluster.model_versions[V1]  # the old ModelVersion was deleted; its Deployment runs on
    driver.send("promote")
    driver.run_until(lambda d: d.status.phase == "Healthy")
    stage_actions = [a for a in driver.all_actions() if isinstance(a, SetModelVersionStage)]
    assert [(a.version, a.stage) for a in stage_actions] == [(V2, "candidate"), (V2, "production")]


@pytest.mark.parametrize("limit", [0, 1, 3, 10])
def test_history_is_bounded_by_revision_history_limit(limit: int) -> None:
    driver = new_driver(canary_spec(steps=[{"setWeight": 50}], revisionHistoryLimit=limit, scaleDownDelaySeconds=0))
    targets = ["1.1.0", "1.2.0", "2.0.0", "1.0.0", "1.1.0", "1.2.0"]
    for index, target in enumerate(targets):
        if index:
            driver.set_target(target)
        driver.run_until(lambda d, t=target: d.status.stable_version == mv_name(t))
    history = driver.status.history
    assert len(history) == min(limit, len(targets))
    assert [h.version for h in history] == [mv_name(t) for t in targets][len(targets) - len(history) :]
    assert all(h.outcome == "Promoted" for h in history)


def test_conditions_carry_the_generation_and_move_only_on_status_change() -> None:
    driver = new_driver(canary_spec(steps=[{"setWeight": 25}, {"pause": {"duration": "20s"}}, {"pause": {}}]))
    seen: dict[str, tuple[str, str]] = {c.type: (c.status, c.last_transition_time) for c in driver.status.conditions}
    transitions: list[tuple[str, str]] = []

    def observe() -> None:
        for condition in driver.status.conditions:
            assert condition.observed_generation is not None
            assert condition.observed_generation <= driver.generation
            previous = seen.get(condition.type)
            if previous is not None:
                status_changed = previous[0] != condition.status
                time_moved = previous[1] != condition.last_transition_time
                assert status_changed == time_moved, (condition.type, previous, condition)
                if status_changed:
                    transitions.append((condition.type, condition.status))
            seen[condition.type] = (condition.status, condition.last_transition_time)
        assert driver.status.observed_generation == driver.generation

    for _ in range(20):
        driver.step()
        observe()
    driver.edit(replicas=6)  # a new generation: conditions computed now carry it
    driver.step()
    observe()
    # the pause re-evaluates Paused with the new generation (the others keep the pass that set them)
    assert driver.condition("Paused").observed_generation == driver.generation
    driver.send("promote")
    driver.run_until(lambda d: d.status.phase == "Healthy")
    observe()
    assert ("Progressing", "True") in transitions
    assert ("Paused", "True") in transitions
    assert ("Completed", "True") in transitions
    assert transitions.count(("Paused", "True")) == 1


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: new_driver(canary_spec(steps=STEPS), analysis=steps_wait), id="canary"),
        pytest.param(lambda: new_driver(blue_green_spec(), analysis=steps_wait), id="blue-green"),
    ],
)
def test_observed_generation_follows_every_pass(make: Callable[[], Driver]) -> None:
    driver: Driver = make()
    for index in range(15):
        if index == 5:
            driver.edit(progressDeadlineSeconds=1200)
        driver.step()
        assert driver.status.observed_generation == driver.generation
