"""Canary rollouts end to end: pauses hold, controls (pause, resume, promote, promote-full, abort,
retry) act once, and target changes supersede or cancel cleanly.

The `timeline` fixture watches Services, Pods, Deployments and the Rollout throughout, so the
tests also check the states between polls (no Service ever selects a version without a ready
pod; which replica counts a Deployment went through).
"""

from __future__ import annotations

from typing import Any

from rollouts import Cluster, Timeline, canary_rollout, model_version

from modelrollout.devenv.operator import OperatorProcess

V1, V2, V3 = "sa-2-3-1", "sa-2-4-0", "sa-2-5-0"


def start_on_v1(kube: Cluster, steps: list[dict[str, Any]], *versions: tuple[str, str]) -> None:
    kube.create(model_version(V1, "2.3.1"))
    for name, version in versions:
        kube.create(model_version(name, version))
    kube.create(canary_rollout("sa", V1, steps))
    kube.wait_status("sa", "first version healthy", lambda s: s.get("phase") == "Healthy")


def at_step(step: int, phase: str | None = None) -> Any:
    def check(status: dict[str, Any]) -> bool:
        return status.get("currentStep") == step and (phase is None or status.get("phase") == phase)

    return check


def is_subsequence(wanted: list[str], events: list[str]) -> bool:
    """Whether events contain the wanted texts in this order (others may come in between)."""
    remaining = iter(events)
    return all(any(item in event for event in remaining) for item in wanted)


def test_pauses_hold_until_time_or_promote_and_pause_control_holds_until_resume(
    kube: Cluster, operator: OperatorProcess, timeline: Timeline
) -> None:
    steps: list[dict[str, Any]] = [
        {"setWeight": 25},
        {"pause": {"duration": "3s"}},
        {"setWeight": 50},
        {"pause": {"duration": "2s"}},
        {"setWeight": 75},
        {"pause": {}},
    ]
    start_on_v1(kube, steps, (V2, "2.4.0"))
    kube.set_target("sa", V2)

    # A timed pause holds the replica counts while its clock runs.
    kube.wait_status("sa", "in the timed pause", at_step(1))
    samples: list[dict[str, tuple[int, int]]] = []

    def sample_until_pause_ends() -> bool:
        before = kube.status("sa")
        replicas = kube.replicas("sa")
        after = kube.status("sa")
        if before.get("currentStep") == after.get("currentStep") == 1:
            assert before["phase"] == "Progressing" and before["canaryWeight"] == 25, before
            samples.append(replicas)
            return False
        return int(after.get("currentStep") or 0) >= 2

    kube.wait(sample_until_pause_ends, "the timed pause to end", timeout=30)
    assert len(samples) >= 5, "the timed pause ended too soon to be observed"
    assert all(sample == {"2.3.1": (3, 3), "2.4.0": (1, 1)} for sample in samples), samples

    # The pause control holds a timed pause past its duration, until resume.
    kube.wait_status("sa", "in the second timed pause", at_step(3))
    kube.control("sa", "pause", "1")
    status = kube.wait_status("sa", "paused by the user", at_step(3, "Paused"))
    assert status["pausedByUser"] is True
    assert status["message"] == "paused by user"
    kube.hold(
        lambda: (
            kube.status("sa").get("currentStep") == 3
            and kube.status("sa").get("phase") == "Paused"
            and kube.replicas("sa") == {"2.3.1": (2, 2), "2.4.0": (2, 2)}
        ),
        "paused by the user at step 3 with weight 50",
        seconds=3,  # longer than the step's own 2s
    )
    kube.control("sa", "resume", "2")

    # An indefinite pause holds until promote.
    kube.wait_status("sa", "indefinite pause", at_step(5, "Paused"))
    assert kube.replicas("sa") == {"2.3.1": (1, 1), "2.4.0": (3, 3)}
    kube.hold(
        lambda: kube.status("sa").get("currentStep") == 5 and kube.status("sa").get("phase") == "Paused",
        "paused until promoted",
        seconds=2,
    )
    kube.control("sa", "promote", "3")
    kube.wait_status("sa", "promoted", lambda s: s.get("phase") == "Healthy" and s.get("stableVersion") == V2)
    kube.wait(lambda: kube.replicas("sa") == {"2.3.1": (0, 0), "2.4.0": (4, 4)} or None, "old stable scaled down")

    events = kube.events("sa")
    assert is_subsequence(
        [
            "RolloutStarted",
            "StepCompleted: step 1/6: weight 25% reached",
            "StepCompleted: step 2/6: pause of 3s done",
            "StepCompleted: step 3/6: weight 50% reached",
            "Control: pause requested",
            "Paused: paused by user",
            "Control: resume requested",
            "StepCompleted: step 4/6: pause of 2s done",
            "StepCompleted: step 5/6: weight 75% reached",
            "Paused: step 6/6: paused until promoted",
            "skipped by promote",
            "Control: promote requested",
            "Promoted",
            "ScaledDown",
        ],
        events,
    ), "\n".join(events)
    assert sum(event.startswith("StepCompleted") for event in events) == 6, events

    timeline.sync()
    assert [str(v) for v in timeline.violations()] == []
    assert timeline.step_regressions("sa") == []
    # The stable Service selected both versions from the first canary pod to the promotion, without flapping.
    assert timeline.selector_history("sa") == ["2.3.1", "*", "2.4.0"]
    # Replicas only ever moved towards the next weight: 1, 2, 3, then 4 pods of the candidate.
    assert timeline.deployment_replicas("sa-2.4.0") == [1, 2, 3, 4]
    assert timeline.deployment_replicas("sa-2.3.1") == [4, 3, 2, 1, 0]


def test_abort_returns_all_traffic_to_stable_until_retry(
    kube: Cluster, operator: OperatorProcess, timeline: Timeline
) -> None:
    start_on_v1(kube, [{"setWeight": 50}, {"pause": {}}], (V2, "2.4.0"))
    kube.set_target("sa", V2)
    kube.wait_status("sa", "paused at weight 50", at_step(1, "Paused"))
    assert kube.selected_version("sa") == "*"
    assert kube.replicas("sa") == {"2.3.1": (2, 2), "2.4.0": (2, 2)}

    kube.control("sa", "abort", "1")
    status = kube.wait_status("sa", "rolled back", lambda s: s.get("phase") == "RolledBack")
    assert status.get("candidateVersion") is None
    assert status["canaryWeight"] == 0
    assert status["stableVersion"] == V1
    kube.wait(lambda: kube.selected_version("sa") == "2.3.1" or None, "stable Service back on the stable version only")
    kube.wait(lambda: kube.selected_version("sa-canary") == "2.3.1" or None, "canary Service back on stable")
    kube.wait(lambda: kube.replicas("sa") == {"2.3.1": (4, 4), "2.4.0": (0, 0)} or None, "stable full, candidate 0")
    assert kube.history("sa") == [(V2, "Aborted")]
    assert kube.model_version_status(V2)["stage"] == "rejected"

    # It does not retry by itself.
    kube.hold(
        lambda: (
            kube.status("sa").get("phase") == "RolledBack"
            and kube.status("sa").get("candidateVersion") is None
            and kube.replicas("sa") == {"2.3.1": (4, 4), "2.4.0": (0, 0)}
            and kube.selected_version("sa") == "2.3.1"
        ),
        "RolledBack with all traffic on the stable version",
        seconds=4,
    )
    assert kube.reasons("sa").count("RolloutStarted") == 1

    # `retry` starts it again from the first step.
    kube.control("sa", "retry", "2")
    kube.wait_status("sa", "paused at weight 50 again", at_step(1, "Paused"))
    assert kube.replicas("sa") == {"2.3.1": (2, 2), "2.4.0": (2, 2)}
    assert kube.selected_version("sa") == "*"
    assert kube.model_version_status(V2)["stage"] == "candidate"
    assert kube.occurrences("sa", "RolloutStarted") == 2

    timeline.sync()
    assert [str(v) for v in timeline.violations()] == []
    assert timeline.selector_history("sa") == ["2.3.1", "*", "2.3.1", "*"]
    assert timeline.selector_history("sa-canary") == ["2.3.1", "2.4.0", "2.3.1", "2.4.0"]


def test_promote_full_skips_remaining_steps(kube: Cluster, operator: OperatorProcess, timeline: Timeline) -> None:
    steps: list[dict[str, Any]] = [
        {"setWeight": 25},
        {"pause": {}},
        {"setWeight": 50},
        {"pause": {}},
        {"setWeight": 75},
        {"pause": {}},
    ]
    start_on_v1(kube, steps, (V2, "2.4.0"))
    kube.set_target("sa", V2)
    kube.wait_status("sa", "paused at weight 25", at_step(1, "Paused"))

    kube.control("sa", "promote-full", "1")
    status = kube.wait_status("sa", "promoted", lambda s: s.get("phase") == "Healthy" and s.get("stableVersion") == V2)
    assert status["history"][-1]["outcome"] == "Promoted"
    assert status["history"][-1]["reason"] == "promoted with --full"
    assert kube.selected_version("sa") == "2.4.0"
    kube.wait(lambda: kube.replicas("sa") == {"2.3.1": (0, 0), "2.4.0": (4, 4)} or None, "old stable scaled down")

    timeline.sync()
    assert [str(v) for v in timeline.violations()] == []
    # Straight from weight 25 to all replicas: the steps at 50 and 75 never ran.
    assert timeline.deployment_replicas("sa-2.4.0") == [1, 4]
    assert max(s.get("currentStep") or 0 for s in timeline.rollout_statuses("sa")) == 1
    assert sum(event.startswith("StepCompleted") for event in kube.events("sa")) == 1


def test_target_change_supersedes_and_target_back_to_stable_cancels(
    kube: Cluster, operator: OperatorProcess, timeline: Timeline
) -> None:
    start_on_v1(kube, [{"setWeight": 50}, {"pause": {}}], (V2, "2.4.0"), (V3, "2.5.0"))
    kube.set_target("sa", V2)
    kube.wait_status("sa", "v2 paused at weight 50", at_step(1, "Paused"))

    # A new target mid-rollout: the old candidate is superseded and scaled to 0, the new one starts over.
    kube.set_target("sa", V3)
    kube.wait_status(
        "sa", "v3 paused at weight 50", lambda s: s.get("candidateVersion") == V3 and at_step(1, "Paused")(s)
    )
    kube.wait(
        lambda: kube.replicas("sa") == {"2.3.1": (2, 2), "2.4.0": (0, 0), "2.5.0": (2, 2)} or None,
        "v2 scaled to 0, v3 at weight 50",
    )
    assert kube.history("sa") == [(V2, "Superseded")]
    assert kube.model_version_status(V2)["stage"] == "staging"
    assert kube.model_version_status(V3)["stage"] == "candidate"
    assert kube.selected_version("sa-canary") == "2.5.0"

    # Target back to the stable version: cancelled, all traffic on stable.
    kube.set_target("sa", V1)
    status = kube.wait_status(
        "sa", "cancelled", lambda s: s.get("phase") == "Healthy" and s.get("candidateVersion") is None
    )
    assert status["stableVersion"] == V1
    assert kube.history("sa") == [(V2, "Superseded"), (V3, "Cancelled")]
    kube.wait(lambda: kube.selected_version("sa") == "2.3.1" or None, "stable Service on the stable version only")
    kube.wait(lambda: kube.selected_version("sa-canary") == "2.3.1" or None, "canary Service on the stable version")
    kube.wait(
        lambda: kube.replicas("sa") == {"2.3.1": (4, 4), "2.4.0": (0, 0), "2.5.0": (0, 0)} or None,
        "only the stable version runs",
    )
    assert kube.model_version_status(V3)["stage"] == "staging"
    assert kube.model_version_status(V1)["stage"] == "production"
    reasons = kube.reasons("sa")
    assert reasons.count("RolloutStarted") == 2
    assert reasons.count("Superseded") == 1
    assert reasons.count("Cancelled") == 1
    assert "Promoted" not in reasons

    timeline.sync()
    assert [str(v) for v in timeline.violations()] == []
    assert timeline.step_regressions("sa") == []
    # The new candidate began at step 0 and progressed from there.
    v3_steps = [s.get("currentStep") for s in timeline.rollout_statuses("sa") if s.get("candidateVersion") == V3]
    assert v3_steps[0] == 0
    assert 1 in v3_steps
    assert timeline.deployment_replicas("sa-2.4.0") == [2, 0]
    assert timeline.deployment_replicas("sa-2.5.0") == [2, 0]
    assert timeline.deployment_replicas("sa-2.3.1") == [4, 2, 4]
