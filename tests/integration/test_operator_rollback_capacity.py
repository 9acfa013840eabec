"""A rollback from a high canary weight does not drop capacity (spec.rollbackPolicy, default 100 %).

At 60 % of 5 replicas the stable version runs 2 pods. The stable version's new pods are held
Pending (a node gate, as a model server still loading would hold them unready), the rollout is
aborted, and the stable Service must keep both versions until all 5 stable pods are ready.
"""

from __future__ import annotations

from typing import Any

from rollouts import Cluster, NodeGate, Timeline, canary_rollout, model_version

from modelrollout.devenv.operator import OperatorProcess

V1, V2 = "sa-2-3-1", "sa-2-4-0"


def test_abort_at_sixty_percent_moves_traffic_only_as_stable_pods_become_ready(
    kube: Cluster, operator: OperatorProcess, timeline: Timeline, gate: NodeGate
) -> None:
    gate.open()
    kube.create(model_version(V1, "2.3.1", template=gate.template("support-agent", "2.3.1")))
    kube.create(model_version(V2, "2.4.0"))
    steps: list[dict[str, Any]] = [{"setWeight": 60}, {"pause": {}}]
    kube.create(canary_rollout("sa", V1, steps, replicas=5))
    kube.wait_status("sa", "first version healthy", lambda s: s.get("phase") == "Healthy")
    kube.set_target("sa", V2)
    kube.wait_status("sa", "paused at weight 60", lambda s: s.get("phase") == "Paused" and s.get("currentStep") == 1)
    assert kube.replicas("sa") == {"2.3.1": (2, 2), "2.4.0": (3, 3)}
    assert kube.selected_version("sa") == "*"

    gate.close()  # new stable pods stay Pending: a model that takes minutes to load
    kube.control("sa", "abort", "1")
    status = kube.wait_status(
        "sa", "rolled back, waiting for stable capacity", lambda s: s.get("phase") == "RolledBack"
    )
    assert status["rollbackDrain"]["version"] == V2
    assert status["rollbackDrain"]["requiredReady"] == 5
    kube.wait(lambda: kube.replicas("sa").get("2.3.1") == (5, 2) or None, "stable scaled up first")
    kube.hold(
        lambda: kube.selected_version("sa") == "*" and kube.replicas("sa")["2.4.0"] == (3, 3),
        "the candidate keeps serving its share while only 2/5 stable pods are ready",
        seconds=3,
    )
    condition = kube.condition("sa", "StableCapacity")
    assert condition is not None and condition["status"] == "False", condition
    assert condition["reason"] == "WaitingForStableCapacity"
    assert "2/5 ready" in condition["message"]
    assert "waiting for stable capacity 2/5 ready" in kube.status("sa")["message"]
    assert "WaitingForStableCapacity" in kube.reasons("sa")
    assert "TrafficReturned" not in kube.reasons("sa")

    gate.open()  # the stable pods finish loading
    kube.wait(lambda: kube.selected_version("sa") == "2.3.1" or None, "traffic back on stable only", timeout=60)
    kube.wait(lambda: kube.replicas("sa") == {"2.3.1": (5, 5), "2.4.0": (0, 0)} or None, "candidate scaled down")
    status = kube.status("sa")
    assert status.get("rollbackDrain") is None
    assert kube.condition("sa", "StableCapacity")["status"] == "True"  # type: ignore[index]
    completed = kube.condition("sa", "Completed")
    assert completed is not None and (completed["status"], completed["reason"]) == ("False", "RolledBack")
    events = kube.events("sa")
    waiting = [e for e in events if e.startswith("WaitingForStableCapacity")]
    moved = [e for e in events if e.startswith("TrafficReturned")]
    assert len(waiting) == 1 and len(moved) == 1, events
    assert events.index(waiting[0]) < events.index(moved[0])
    assert "5/5 ready" in moved[0]

    timeline.sync()
    assert [str(v) for v in timeline.violations()] == []
    assert timeline.selector_history("sa") == ["2.3.1", "*", "2.3.1"]
    # The stable Service went back to the stable version alone only with all 5 of its pods ready.
    back = timeline.ready_pods_when_selected("sa", "2.3.1")[-1]
    assert back.get("2.3.1", 0) >= 5, back
    # Stable grew 2 -> 5 before the candidate went 3 -> 0, in one step each.
    assert timeline.deployment_replicas("sa-2.3.1")[-2:] == [2, 5]
    assert timeline.deployment_replicas("sa-2.4.0")[-2:] == [3, 0]
