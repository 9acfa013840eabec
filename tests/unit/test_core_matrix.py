"""Every phase a Rollout can be in, crossed with every event that can reach it.

Each cell drives the fake cluster to the phase, delivers the event in one pass and checks the
phase, candidate and stable version that pass leaves behind (the fake cluster checks the traffic
invariants on the way).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fakecluster import NEVER, Driver, blue_green_spec, canary_spec, mv_name, new_driver, steps_pass, steps_wait

from modelrollout.core.analysis_contract import AnalysisSummary

V1 = mv_name("1.0.0")
V2 = mv_name("1.1.0")
V3 = mv_name("1.2.0")

STEPS: list[dict[str, Any]] = [
    {"setWeight": 25},
    {"pause": {"duration": "20s"}},
    {"analysis": {"metrics": ["error-rate"]}},
    {"setWeight": 75},
    {"pause": {}},
]


def _canary(until: Callable[[Driver], bool], analysis: Any = steps_wait) -> Driver:
    driver = new_driver(canary_spec(steps=STEPS), analysis=analysis)
    driver.run_until(until, max_passes=60)
    driver.analysis = steps_wait
    return driver


def healthy() -> Driver:
    return new_driver(canary_spec("1.0.0", steps=STEPS))


def initializing() -> Driver:
    driver = new_driver(canary_spec("1.0.0", steps=STEPS), stable=None, ready_after={"1.0.0": NEVER})
    driver.run(3)
    return driver


def canary_progressing() -> Driver:
    return _canary(lambda d: d.status.current_step == 1)


def canary_analysis() -> Driver:
    return _canary(lambda d: d.status.current_step == 2)


def canary_paused_step() -> Driver:
    return _canary(lambda d: d.status.phase == "Paused", analysis=steps_pass)


def paused_by_user() -> Driver:
    driver = canary_progressing()
    driver.send("pause")
    driver.run(2)
    return driver


def blue_green_preview() -> Driver:
    driver = new_driver(blue_green_spec(autoPromotionEnabled=False), analysis=steps_wait)
    driver.run_until(lambda d: d.status.phase == "Paused")
    return driver


def blue_green_switched() -> Driver:
    driver = new_driver(blue_green_spec(postPromotionAnalysis=["error-rate"]), analysis=steps_wait)
    driver.run_until(lambda d: d.status.phase == "Promoting")
    return driver


def rolled_back() -> Driver:
    driver = canary_progressing()
    driver.send("abort")
    driver.run(3)
    return driver


PHASES: dict[str, tuple[Callable[[], Driver], str]] = {
    "healthy": (healthy, "Healthy"),
    "initializing": (initializing, "Initializing"),
    "canary-progressing": (canary_progressing, "Progressing"),
    "canary-analysis": (canary_analysis, "Progressing"),
    "canary-paused-step": (canary_paused_step, "Paused"),
    "paused-by-user": (paused_by_user, "Paused"),
    "blue-green-preview": (blue_green_preview, "Paused"),
    "blue-green-switched": (blue_green_switched, "Promoting"),
    "rolled-back": (rolled_back, "RolledBack"),
}

CRITICAL = AnalysisSummary(critical_failure="error-rate: 0.2 > 0.05")
WARNING = AnalysisSummary(warnings=("cost: 2.5x baseline",))
NO_DATA = AnalysisSummary(no_data="error-rate: no data")


def deliver(driver: Driver, event: str) -> None:
    """One pass carrying the event."""
    summary: AnalysisSummary | None = None
    if event == "new-target":
        driver.set_target("1.2.0")
    elif event == "target-to-stable":
        driver.set_target("1.0.0")
    elif event == "spec-edit":
        driver.edit(progressDeadlineSeconds=900)
    elif event == "invalid":
        driver.generation += 1
        driver.invalid = ("spec.analysis.metrics[0]: unknown preset",)
    elif event in ("promote", "promote-full", "abort", "pause", "resume", "retry"):
        driver.send(event)
    else:
        summary = {"critical": CRITICAL, "warning": WARNING, "no-data": NO_DATA}[event]
    driver.step(summary)


EVENTS = [
    "new-target",
    "target-to-stable",
    "promote",
    "promote-full",
    "abort",
    "pause",
    "resume",
    "retry",
    "critical",
    "warning",
    "no-data",
    "invalid",
    "spec-edit",
]

# (phase, candidate, stable) after the pass; "=" means as before the event.
H = ("Healthy", None, V1)
R = ("RolledBack", None, V1)
D = ("Degraded", "=", "=")
NEW = ("Progressing", V3, V1)
SAME = ("=", "=", "=")
EXPECTED: dict[str, dict[str, tuple[str, str | None, str | None]]] = {
    "healthy": {
        "new-target": NEW,
        "target-to-stable": H,
        "promote": H,
        "promote-full": H,
        "abort": H,
        "pause": H,
        "resume": H,
        "retry": H,
        "critical": H,
        "warning": H,
        "no-data": H,
        "invalid": D,
        "spec-edit": H,
    },
    "initializing": {
        "new-target": ("Initializing", None, None),
        "target-to-stable": SAME,
        "promote": SAME,
        "promote-full": SAME,
        "abort": SAME,
        "pause": SAME,
        "resume": SAME,
        "retry": SAME,
        "critical": SAME,
        "warning": SAME,
        "no-data": SAME,
        "invalid": D,
        "spec-edit": SAME,
    },
    "canary-progressing": {
        "new-target": NEW,
        "target-to-stable": H,
        "promote": SAME,  # past the timed pause, into the analysis step
        "promote-full": ("Promoting", V2, V1),
        "abort": R,
        "pause": ("Paused", V2, V1),
        "resume": SAME,
        "retry": SAME,
        "critical": R,
        "warning": SAME,
        "no-data": ("Paused", V2, V1),
        "invalid": D,
        "spec-edit": SAME,
    },
    "canary-analysis": {
        "new-target": NEW,
        "target-to-stable": H,
        "promote": SAME,  # analysis skipped, scaling to 75 %
        "promote-full": ("Promoting", V2, V1),
        "abort": R,
        "pause": ("Paused", V2, V1),
        "resume": SAME,
        "retry": SAME,
        "critical": R,
        "warning": SAME,
        "no-data": ("Paused", V2, V1),
        "invalid": D,
        "spec-edit": SAME,
    },
    "canary-paused-step": {
        "new-target": NEW,
        "target-to-stable": H,
        "promote": ("Promoting", V2, V1),  # past the last step: full candidate, then stable
        "promote-full": ("Promoting", V2, V1),
        "abort": R,
        "pause": SAME,
        "resume": SAME,
        "retry": SAME,
        "critical": R,
        "warning": SAME,
        "no-data": SAME,
        "invalid": D,
        "spec-edit": SAME,
    },
    "paused-by-user": {
        "new-target": ("Paused", V3, V1),  # the user's pause holds the next candidate too
        "target-to-stable": H,
        "promote": SAME,
        "promote-full": SAME,
        "abort": R,
        "pause": SAME,
        "resume": ("Progressing", V2, V1),
        "retry": SAME,
        "critical": R,
        "warning": SAME,
        "no-data": SAME,
        "invalid": D,
        "spec-edit": SAME,
    },
    "blue-green-preview": {
        "new-target": NEW,
        "target-to-stable": H,
        "promote": ("Healthy", None, V2),
        "promote-full": ("Healthy", None, V2),
        "abort": R,
        "pause": SAME,
        "resume": SAME,
        "retry": SAME,
        "critical": R,
        "warning": SAME,
        "no-data": SAME,
        "invalid": D,
        "spec-edit": SAME,
    },
    "blue-green-switched": {
        "new-target": NEW,
        "target-to-stable": H,
        "promote": SAME,  # already switched: post-promotion analysis still decides
        "promote-full": ("Healthy", None, V2),
        "abort": R,
        "pause": ("Paused", V2, V1),
        "resume": SAME,
        "retry": SAME,
        "critical": R,
        "warning": SAME,
        "no-data": ("Paused", V2, V1),
        "invalid": D,
        "spec-edit": SAME,
    },
    "rolled-back": {
        "new-target": NEW,
        "target-to-stable": H,
        "promote": R,
        "promote-full": R,
        "abort": R,
        "pause": R,
        "resume": R,
        "retry": ("Progressing", V2, V1),
        "critical": R,
        "warning": R,
        "no-data": R,
        "invalid": D,
        "spec-edit": ("Progressing", V2, V1),  # a new generation retries the rejected target
    },
}


# Cells whose event moves the canary step (every other cell keeps it).
STEP_AFTER = {
    ("canary-progressing", "promote"): 2,
    ("canary-analysis", "promote"): 3,
    ("canary-paused-step", "promote"): 5,
    ("paused-by-user", "promote"): 2,  # the pause step is skipped, the user's pause still holds
    ("canary-progressing", "new-target"): 0,
    ("canary-analysis", "new-target"): 0,
    ("canary-paused-step", "new-target"): 0,
    ("paused-by-user", "new-target"): 0,
    ("blue-green-preview", "new-target"): 0,
    ("blue-green-switched", "new-target"): 0,
    ("rolled-back", "new-target"): 0,
    ("rolled-back", "retry"): 0,
    ("rolled-back", "spec-edit"): 0,
    ("healthy", "new-target"): 0,
}


def test_the_table_is_complete() -> None:
    assert set(EXPECTED) == set(PHASES)
    for phase, row in EXPECTED.items():
        assert list(row) == EVENTS, phase


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("phase", list(PHASES))
def test_phase_x_event(phase: str, event: str) -> None:
    make, phase_name = PHASES[phase]
    driver = make()
    assert driver.status.phase == phase_name, "the setup reached the phase it names"
    before = driver.status.model_copy(deep=True)
    deliver(driver, event)
    want_phase, want_candidate, want_stable = EXPECTED[phase][event]
    status = driver.status
    assert status.phase == (before.phase if want_phase == "=" else want_phase)
    assert status.candidate_version == (before.candidate_version if want_candidate == "=" else want_candidate)
    assert status.stable_version == (before.stable_version if want_stable == "=" else want_stable)
    assert status.observed_generation == driver.generation
    if status.phase == "RolledBack":
        assert status.rejected is not None
    if status.phase == "Degraded":
        assert driver.condition("InvalidSpec").status == "True"
    if (phase, event) in STEP_AFTER:
        assert status.current_step == STEP_AFTER[phase, event]
    elif status.candidate_version is not None and status.candidate_version == before.candidate_version:
        assert status.current_step == before.current_step, "no step taken or skipped"
    if event in ("promote", "promote-full", "abort", "pause", "resume", "retry"):
        assert status.last_handled_control == driver.control, "every control value is recorded once seen"
    # the state the event left is stable: more passes without events never violate the invariants
    driver.run(5)
