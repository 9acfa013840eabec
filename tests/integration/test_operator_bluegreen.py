"""Blue-green rollouts end to end on the real control plane: preview first, switch, scale down, abort.

The `timeline` fixture watches Services and Pods for the whole test, so the assertions also
cover moments between polls: which pods were ready when a selector switched.
"""

from __future__ import annotations

from rollouts import Cluster, NodeGate, Timeline, bluegreen_rollout, model_version

from modelrollout.devenv.operator import OperatorProcess

V1, V2 = "sa-2-3-1", "sa-2-4-0"


def healthy_on_v1(kube: Cluster, **strategy: object) -> None:
    kube.create(bluegreen_rollout("sa", V1, replicas=2, **strategy))
    kube.wait_status("sa", "first version healthy", lambda s: s.get("phase") == "Healthy")
    assert kube.selected_version("sa") == "2.3.1"
    assert kube.selected_version("sa-preview") == "2.3.1"


def test_preview_first_then_auto_promotion_then_delayed_scale_down(
    kube: Cluster, operator: OperatorProcess, timeline: Timeline, gate: NodeGate
) -> None:
    kube.create(model_version(V1, "2.3.1"))
    # The candidate's pods stay Pending until the gate opens: "not Available yet" lasts as long as we want.
    kube.create(model_version(V2, "2.4.0", template=gate.template("support-agent", "2.4.0")))
    healthy_on_v1(kube, autoPromotionSeconds=3, scaleDownDelaySeconds=4)

    kube.set_target("sa", V2)
    kube.wait(lambda: kube.replicas("sa").get("2.4.0") == (2, 0) or None, "candidate deployed, no pod ready")
    kube.wait_status(
        "sa",
        "waiting for the candidate to become available",
        lambda s: s.get("candidateVersion") == V2 and "become available" in (s.get("message") or ""),
    )
    # Neither Service moves to a version that is not Available.
    kube.hold(
        lambda: kube.selected_version("sa") == "2.3.1" and kube.selected_version("sa-preview") == "2.3.1",
        "both Services on the stable version while the candidate is not Available",
        seconds=1.5,
    )

    gate.open()
    kube.wait(lambda: kube.selected_version("sa-preview") == "2.4.0" or None, "preview selects the candidate")
    assert kube.selected_version("sa") == "2.3.1", "the active Service switched together with the preview"
    assert kube.status("sa")["blueGreen"]["previewReadyAt"]

    # Auto-promotion switches the active selector...
    kube.wait(lambda: kube.selected_version("sa") == "2.4.0" or None, "auto-promotion switches the active Service")
    # ...and the old version keeps its pods right after the switch (scaleDownDelaySeconds: 4).
    assert kube.replicas("sa")["2.3.1"][0] == 2, "old version scaled down without waiting scaleDownDelaySeconds"
    status = kube.wait_status("sa", "promoted", lambda s: s.get("phase") == "Healthy" and s.get("stableVersion") == V2)
    assert status.get("candidateVersion") is None
    assert kube.history("sa") == [(V2, "Promoted")]
    kube.wait(lambda: kube.replicas("sa") == {"2.3.1": (0, 0), "2.4.0": (2, 2)} or None, "old version scaled to 0")
    assert kube.selected_version("sa-preview") == "2.4.0"
    assert kube.model_version_status(V1)["stage"] == "deprecated"
    assert kube.model_version_status(V2)["stage"] == "production"

    reasons = kube.reasons("sa")
    sequence = ["RolloutStarted", "PreviewReady", "Switched", "Promoted", "ScaledDown"]
    positions = [reasons.index(reason) for reason in sequence]
    assert positions == sorted(positions), reasons

    timeline.sync()
    assert [str(v) for v in timeline.violations()] == []
    # The preview, then the active Service, selected the candidate only once all its pods were ready.
    assert [m.get("2.4.0") for m in timeline.ready_pods_when_selected("sa-preview", "2.4.0")] == [2]
    assert [m.get("2.4.0") for m in timeline.ready_pods_when_selected("sa", "2.4.0")] == [2]
    # The active Service went straight from the stable version to the candidate, once.
    assert timeline.selector_history("sa") == ["2.3.1", "2.4.0"]
    assert timeline.selector_history("sa-preview") == ["2.3.1", "2.4.0"]
    # The old version was scaled down once, to zero, and never touched in between.
    assert timeline.deployment_replicas("sa-2.3.1") == [2, 0]


def test_abort_before_promotion_keeps_active_on_stable(
    kube: Cluster, operator: OperatorProcess, timeline: Timeline
) -> None:
    kube.create(model_version(V1, "2.3.1"))
    kube.create(model_version(V2, "2.4.0"))
    healthy_on_v1(kube, autoPromotionEnabled=False)

    kube.set_target("sa", V2)
    kube.wait_status("sa", "preview ready, waiting", lambda s: s.get("phase") == "Paused")
    assert kube.selected_version("sa-preview") == "2.4.0"

    kube.control("sa", "abort", "1")
    status = kube.wait_status("sa", "rolled back", lambda s: s.get("phase") == "RolledBack")
    assert status.get("candidateVersion") is None
    assert status["stableVersion"] == V1
    assert kube.selected_version("sa") == "2.3.1"
    kube.wait(lambda: kube.selected_version("sa-preview") == "2.3.1" or None, "preview back on the stable version")
    kube.wait(lambda: kube.replicas("sa") == {"2.3.1": (2, 2), "2.4.0": (0, 0)} or None, "candidate scaled to 0")
    assert kube.history("sa") == [(V2, "Aborted")]
    mv = kube.model_version_status(V2)
    assert mv["stage"] == "rejected"
    assert "aborted" in mv.get("reason", "")
    assert "Aborted" in kube.reasons("sa")

    # It stays rolled back: no new attempt while neither the spec changes nor a retry comes.
    kube.hold(
        lambda: kube.status("sa").get("phase") == "RolledBack" and kube.replicas("sa")["2.4.0"] == (0, 0),
        "RolledBack with the candidate at 0",
        seconds=3,
    )
    assert kube.reasons("sa").count("RolloutStarted") == 1

    timeline.sync()
    assert [str(v) for v in timeline.violations()] == []
    assert timeline.selector_history("sa") == ["2.3.1"], "abort before promotion moved the active Service"
    assert timeline.selector_history("sa-preview") == ["2.3.1", "2.4.0", "2.3.1"]


def test_manual_promotion_waits_for_promote(kube: Cluster, operator: OperatorProcess, timeline: Timeline) -> None:
    kube.create(model_version(V1, "2.3.1"))
    kube.create(model_version(V2, "2.4.0"))
    healthy_on_v1(kube, autoPromotionEnabled=False, autoPromotionSeconds=0)

    kube.set_target("sa", V2)
    status = kube.wait_status("sa", "paused for promotion", lambda s: s.get("phase") == "Paused")
    assert "waiting for promote" in status["message"]
    paused = kube.condition("sa", "Paused")
    assert paused is not None and paused["status"] == "True"
    assert kube.selected_version("sa-preview") == "2.4.0"
    kube.hold(
        lambda: kube.status("sa").get("phase") == "Paused" and kube.selected_version("sa") == "2.3.1",
        "paused with the active Service on the stable version",
        seconds=3,
    )

    kube.control("sa", "promote", "1")
    kube.wait_status("sa", "promoted", lambda s: s.get("phase") == "Healthy" and s.get("stableVersion") == V2)
    assert kube.selected_version("sa") == "2.4.0"
    assert kube.history("sa") == [(V2, "Promoted")]
    assert "Control: promote requested" in kube.events("sa")
    kube.wait(lambda: kube.replicas("sa") == {"2.3.1": (0, 0), "2.4.0": (2, 2)} or None, "old version scaled to 0")

    timeline.sync()
    assert [str(v) for v in timeline.violations()] == []
    assert timeline.selector_history("sa") == ["2.3.1", "2.4.0"]
