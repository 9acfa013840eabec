"""SIGKILL the operator at several points of canary rollouts and start it again.

Every rollout must still converge to the right end state, no step may run twice or go
backwards, and at no moment (watched continuously, not polled) may a Service the rollout owns
select a version none of whose pods is ready.
"""

from __future__ import annotations

import random
import re
import time
from typing import Any

from rollouts import Cluster, NodeGate, Timeline, canary_rollout, model_version

from modelrollout.devenv.operator import OperatorProcess

V1, V2, V3 = "sa-2-3-1", "sa-2-4-0", "sa-2-5-0"
STEPS: list[dict[str, Any]] = [
    {"setWeight": 25},  # 0: 2 of 6 replicas
    {"pause": {"duration": "2s"}},  # 1
    {"setWeight": 50},  # 2: 3 of 6
    {"pause": {}},  # 3
    {"pause": {}},  # 4: a second indefinite pause, so a promote handled twice would show
    {"setWeight": 75},  # 5: 5 of 6
]


def restart(operator: OperatorProcess) -> None:
    operator.kill()
    operator.start()


def at_step(candidate: str, step: int, phase: str | None = None) -> Any:
    def check(status: dict[str, Any]) -> bool:
        return (
            status.get("candidateVersion") == candidate
            and status.get("currentStep") == step
            and (phase is None or status.get("phase") == phase)
        )

    return check


def distinct_steps(timeline: Timeline, candidate: str) -> list[int]:
    """The currentStep values of a candidate's run, in order, consecutive repeats folded."""
    steps: list[int] = []
    for status in timeline.rollout_statuses("sa"):
        step = status.get("currentStep")
        if status.get("candidateVersion") == candidate and step is not None and (not steps or steps[-1] != step):
            steps.append(step)
    return steps


def completed_steps_per_run(events: list[str]) -> list[list[int]]:
    """1-based step numbers of the StepCompleted events, split into runs at each RolloutStarted."""
    runs: list[list[int]] = []
    for event in events:
        if event.startswith("RolloutStarted"):
            runs.append([])
        elif event.startswith("StepCompleted") and runs:
            labelled = re.search(r"step (\d+)/\d+", event)
            assert labelled, event
            runs[-1].append(int(labelled.group(1)))
    return runs


def test_operator_killed_at_any_point_converges_without_repeating_steps(
    kube: Cluster, operator: OperatorProcess, timeline: Timeline, gate: NodeGate
) -> None:
    kube.create(model_version(V1, "2.3.1"))
    # V2's pods stay Pending until the gate opens: a kill lands mid-step for sure.
    kube.create(model_version(V2, "2.4.0", template=gate.template("support-agent", "2.4.0")))
    kube.create(model_version(V3, "2.5.0"))
    kube.create(canary_rollout("sa", V1, STEPS, replicas=6))
    kube.wait_status("sa", "first version healthy", lambda s: s.get("phase") == "Healthy")

    # 1. Killed right after the target change (probably inside the pass that starts the rollout).
    kube.set_target("sa", V2)
    restart(operator)

    # 2. Killed mid-step: the candidate's replicas are requested, none is ready yet.
    kube.wait(lambda: kube.replicas("sa").get("2.4.0") == (2, 0) or None, "candidate pods requested, pending")
    kube.wait_status("sa", "at step 0", at_step(V2, 0, "Progressing"))
    operator.kill()
    gate.open()  # the pods become ready while no operator runs
    kube.wait(lambda: kube.replicas("sa").get("2.4.0") == (2, 2) or None, "candidate pods ready")
    operator.start()

    # 3. Killed during an indefinite pause: still paused at the same step afterwards.
    kube.wait_status("sa", "paused at step 3", at_step(V2, 3, "Paused"), timeout=60)
    restart(operator)
    kube.hold(
        lambda: (
            at_step(V2, 3, "Paused")(kube.status("sa")) and kube.replicas("sa") == {"2.3.1": (3, 3), "2.4.0": (3, 3)}
        ),
        "still paused at step 3 after the restart",
        seconds=3,
    )

    # 4. Killed right after a promote: it moves exactly one step, to the second pause.
    kube.control("sa", "promote", "1")
    restart(operator)
    kube.wait_status("sa", "paused at step 4", at_step(V2, 4, "Paused"))
    kube.hold(lambda: at_step(V2, 4, "Paused")(kube.status("sa")), "promote acted once", seconds=3)
    kube.control("sa", "promote", "2")
    kube.wait_status("sa", "v2 promoted", lambda s: s.get("phase") == "Healthy" and s.get("stableVersion") == V2)

    # 5. Killed while the next rollout's replicas move.
    kube.set_target("sa", V3)
    kube.wait_status("sa", "v3 started", lambda s: s.get("candidateVersion") == V3)
    restart(operator)

    # 6. Killed right after promote-full.
    kube.wait_status("sa", "v3 paused at step 3", at_step(V3, 3, "Paused"))
    kube.control("sa", "promote-full", "3")
    restart(operator)
    kube.wait_status("sa", "v3 promoted", lambda s: s.get("phase") == "Healthy" and s.get("stableVersion") == V3)
    kube.wait(
        lambda: kube.replicas("sa") == {"2.3.1": (0, 0), "2.4.0": (0, 0), "2.5.0": (6, 6)} or None,
        "only v3 runs",
    )
    assert operator.starts == 7  # the first start and six after a SIGKILL

    # The end state, and each promotion recorded exactly once.
    status = kube.status("sa")
    assert status.get("candidateVersion") is None
    assert kube.history("sa") == [(V2, "Promoted"), (V3, "Promoted")]
    assert kube.selected_version("sa") == "2.5.0"
    assert kube.selected_version("sa-canary") == "2.5.0"
    assert kube.model_version_status(V1)["stage"] == "deprecated"
    assert kube.model_version_status(V2)["stage"] == "deprecated"
    assert kube.model_version_status(V3)["stage"] == "production"

    # No step ran twice or went backwards: every step of V2's run once and in order (so each
    # promote moved exactly one step), V3's up to the pause where promote-full ended it.
    timeline.sync()
    assert timeline.step_regressions("sa") == []
    assert distinct_steps(timeline, V2) == [0, 1, 2, 3, 4, 5, 6]  # 6: all steps done, promoting
    assert distinct_steps(timeline, V3) == [0, 1, 2, 3]
    events = kube.events("sa")
    runs = [run for run in completed_steps_per_run(events) if run]
    assert len(runs) == 2, events
    for run in runs:
        assert run == sorted(run), f"StepCompleted events went backwards: {run}"
    # An event may be posted again when a kill lands between posting it and writing status,
    # never a step that was not reached.
    assert sorted(set(runs[0])) == [1, 2, 3, 4, 5, 6], events
    assert sorted(set(runs[1])) == [1, 2, 3], events

    # Continuous safety: no owned Service ever selected pods none of which was ready, and the
    # watch saw plenty of selector switches (so this is not vacuous).
    assert [str(v) for v in timeline.violations()] == []
    assert timeline.selector_changes() >= 6, {s: timeline.selector_history(s) for s in ("sa", "sa-canary")}
    assert timeline.selector_history("sa") == ["2.3.1", "*", "2.4.0", "*", "2.5.0"]
    assert timeline.selector_history("sa-canary") == ["2.3.1", "2.4.0", "2.5.0"]


def test_operator_killed_at_random_moments_converges(
    kube: Cluster, operator: OperatorProcess, timeline: Timeline
) -> None:
    """Kills at moments nobody chose: whatever a pass was doing when it died, the next one finishes it."""
    rng = random.Random(20261122)
    steps: list[dict[str, Any]] = [
        {"setWeight": 20},
        {"pause": {"duration": "1s"}},
        {"setWeight": 60},
        {"pause": {"duration": "1s"}},
        # Holds until promoted: the rollout cannot finish before every kill has landed, however
        # fast the machine is.
        {"pause": {}},
    ]
    kube.create(model_version(V1, "2.3.1"))
    kube.create(model_version(V2, "2.4.0"))
    kube.create(canary_rollout("sa", V1, steps, replicas=5))
    kube.wait_status("sa", "first version healthy", lambda s: s.get("phase") == "Healthy")

    kube.set_target("sa", V2)
    kills = 0
    while kills < 6:
        time.sleep(rng.uniform(1.0, 3.0))  # not an assertion: when the next kill lands (startup takes ~1.5 s)
        restart(operator)
        kills += 1
    kube.wait_status("sa", "held at the last step", lambda s: s.get("phase") == "Paused" and s.get("currentStep") == 4)
    kube.control("sa", "promote", "after-kills")
    kube.wait_status("sa", "v2 promoted", lambda s: s.get("phase") == "Healthy" and s.get("stableVersion") == V2)
    kube.wait(lambda: kube.replicas("sa") == {"2.3.1": (0, 0), "2.4.0": (5, 5)} or None, "only v2 runs")
    assert kills >= 3, "the rollout finished before the operator was killed a few times"

    assert kube.history("sa") == [(V2, "Promoted")]
    assert kube.selected_version("sa") == "2.4.0"
    timeline.sync()
    assert timeline.step_regressions("sa") == []
    assert distinct_steps(timeline, V2) == [0, 1, 2, 3, 4, 5]
    assert [str(v) for v in timeline.violations()] == []
    assert timeline.selector_history("sa") == ["2.3.1", "*", "2.4.0"]
