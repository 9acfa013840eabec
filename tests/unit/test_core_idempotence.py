"""Idempotence: the same input gives the same decision; a crash after applying actions but before
the status is written never skips or repeats a step."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fakecluster import Driver, blue_green_spec, canary_spec, mv_name, new_driver, steps_pass

from modelrollout.core.machine import reconcile

V1 = mv_name("1.0.0")
V2 = mv_name("1.1.0")


@dataclass(frozen=True)
class Scenario:
    make: Callable[[], Driver]
    done: Callable[[Driver], bool]
    # (when, verb): a user sends a control once `when` first holds (checked before each pass)
    controls: tuple[tuple[Callable[[Driver], bool], str], ...] = ()


def healthy_on(version: str) -> Callable[[Driver], bool]:
    return lambda d: d.status.phase == "Healthy" and d.status.stable_version == version


CANARY_STEPS: list[dict[str, Any]] = [
    {"setWeight": 20},
    {"pause": {"duration": "15s"}},
    {"analysis": {"metrics": ["error-rate"]}},
    {"setWeight": 60},
    {"pause": {}},
    {"setWeight": 100},
]

SCENARIOS = {
    "canary": Scenario(
        make=lambda: new_driver(
            canary_spec(steps=CANARY_STEPS, replicas=5), ready_after={"1.1.0": 1}, analysis=steps_pass
        ),
        done=healthy_on(V2),
        controls=((lambda d: d.status.phase == "Paused", "promote"),),
    ),
    "canary-one-replica": Scenario(
        make=lambda: new_driver(canary_spec(steps=[{"setWeight": 50}, {"setWeight": 100}], replicas=1)),
        done=healthy_on(V2),
    ),
    "blue-green": Scenario(
        make=lambda: new_driver(
            blue_green_spec(
                prePromotionAnalysis=["error-rate"],
                postPromotionAnalysis=["latency"],
                autoPromotionSeconds=20,
                scaleDownDelaySeconds=10,
            ),
            ready_after={"1.1.0": 2},
            analysis=steps_pass,
        ),
        done=lambda d: healthy_on(V2)(d) and d.cluster.replicas(V1) == 0,
    ),
    "abort": Scenario(
        make=lambda: new_driver(canary_spec(steps=[{"setWeight": 50}, {"pause": {}}])),
        done=lambda d: d.status.phase == "RolledBack" and d.cluster.replicas(V2) == 0,
        controls=((lambda d: d.status.phase == "Paused", "abort"),),
    ),
}


def play(scenario: Scenario, crash_at: frozenset[int] = frozenset(), max_passes: int = 150) -> Driver:
    driver = scenario.make()
    pending = list(scenario.controls)
    for index in range(max_passes):
        send(driver, pending)
        driver.step(persist=index not in crash_at)
        if scenario.done(driver) and not pending:
            return driver
    raise AssertionError(f"scenario did not finish; phase {driver.status.phase}")


def send(driver: Driver, pending: list[tuple[Callable[[Driver], bool], str]]) -> None:
    for control in list(pending):
        when, verb = control
        if when(driver):
            driver.send(verb)
            pending.remove(control)


def milestones(driver: Driver) -> list[str]:
    """What happened, in order, without repeats of the same thing in a row."""
    result: list[str] = []
    for event in driver.events():
        if event.reason in ("StepCompleted", "PreviewReady", "Switched", "Promoted", "Aborted", "ScaledDown"):
            entry = f"{event.reason}: {event.message}"
            if not result or result[-1] != entry:
                result.append(entry)
    return result


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_input_gives_the_same_decision_at_every_pass(name: str) -> None:
    driver = SCENARIOS[name].make()
    driver.check_pure = False  # checked here explicitly
    pending = list(SCENARIOS[name].controls)
    for _ in range(60):
        send(driver, pending)
        inp = driver.input()
        before = inp.status.model_copy(deep=True)
        first, second = reconcile(inp), reconcile(inp)
        assert first == second
        assert inp.status == before
        # and the pass after applying it, from the same observed state, asks for nothing new
        driver.cluster.apply(first.actions)
        driver.status = first.status
        driver.decisions.append(first)
        driver.cluster.tick()
        driver.now += timedelta(seconds=driver.tick)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_crash_at_any_pass_never_skips_or_repeats_a_step(name: str) -> None:
    scenario = SCENARIOS[name]
    baseline = play(scenario)
    expected = milestones(baseline)
    passes = len(baseline.decisions)
    for crash in range(passes):
        driver = play(scenario, frozenset({crash}))
        assert milestones(driver) == expected, f"crash at pass {crash}"
        assert [h.outcome for h in driver.status.history] == [h.outcome for h in baseline.status.history]
        steps = [step for step in driver.persisted_steps if step is not None]
        assert all(0 <= b - a <= 1 for a, b in itertools.pairwise(steps)), (crash, steps)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_crashing_every_other_pass_still_finishes_the_same_way(name: str) -> None:
    scenario = SCENARIOS[name]
    baseline = play(scenario)
    driver = play(scenario, frozenset(range(0, 300, 2)), max_passes=300)
    assert milestones(driver) == milestones(baseline)
    assert driver.status.stable_version == baseline.status.stable_version


def test_blue_green_never_flaps_the_active_service_after_a_crash() -> None:
    scenario = SCENARIOS["blue-green"]
    for crash in range(len(play(scenario).decisions)):
        driver = scenario.make()
        selected: list[str | None] = []
        for index in range(80):
            driver.step(persist=index != crash)
            current = driver.service("active")
            if not selected or selected[-1] != current:
                selected.append(current)
            if scenario.done(driver):
                break
        assert selected == [V1, V2], f"crash at pass {crash}: {selected}"
