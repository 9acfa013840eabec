"""The operator end to end on the real control plane: canary rollouts with the replicas router."""

from __future__ import annotations

from rollouts import Cluster, canary_rollout, model_version

from modelrollout.devenv.operator import OperatorProcess

STEPS = [{"setWeight": 25}, {"pause": {"duration": "2s"}}, {"setWeight": 50}, {"pause": {}}]


def test_canary_follows_steps_pauses_and_promotes(kube: Cluster, operator: OperatorProcess) -> None:
    kube.create(model_version("sa-2-3-1", "2.3.1"))
    kube.create(model_version("sa-2-4-0", "2.4.0"))
    kube.create(canary_rollout("sa", "sa-2-3-1", STEPS))

    kube.wait_status("sa", "first version healthy", lambda s: s.get("phase") == "Healthy")
    assert kube.selector("sa") == {"modelrollout.io/rollout": "sa", "modelrollout.io/version": "2.3.1"}
    assert kube.replicas("sa") == {"2.3.1": (4, 4)}
    assert kube.model_version_status("sa-2-3-1")["stage"] == "production"

    kube.set_target("sa", "sa-2-4-0")
    # setWeight 25 of 4 replicas: one candidate pod, three stable, both behind the stable Service.
    kube.wait(lambda: kube.replicas("sa") == {"2.3.1": (3, 3), "2.4.0": (1, 1)} or None, "weight 25 replicas")
    kube.wait(lambda: kube.selected_version("sa") == "*" or None, "stable Service selects both versions")
    assert kube.selected_version("sa-canary") == "2.4.0"
    # The indefinite pause after setWeight 50 holds.
    status = kube.wait_status(
        "sa", "paused at step 4", lambda s: s.get("phase") == "Paused" and s.get("currentStep") == 3
    )
    assert status["canaryWeight"] == 50
    assert kube.replicas("sa") == {"2.3.1": (2, 2), "2.4.0": (2, 2)}
    assert kube.model_version_status("sa-2-4-0")["stage"] == "candidate"

    kube.control("sa", "promote", "1")
    status = kube.wait_status(
        "sa", "promoted", lambda s: s.get("phase") == "Healthy" and s.get("stableVersion") == "sa-2-4-0"
    )
    assert kube.selected_version("sa") == "2.4.0"
    kube.wait(lambda: kube.replicas("sa") == {"2.3.1": (0, 0), "2.4.0": (4, 4)} or None, "old stable scaled down")
    assert kube.model_version_status("sa-2-3-1")["stage"] == "deprecated"
    assert kube.model_version_status("sa-2-4-0")["stage"] == "production"
    assert status["history"][-1]["outcome"] == "Promoted"
