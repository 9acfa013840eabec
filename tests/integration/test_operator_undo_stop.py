"""`modelrollout undo --to-version` and `modelrollout stop` through the real CLI, operator and control plane."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner, Result
from rollouts import Cluster, canary_rollout, model_version

from modelrollout.cli.main import main
from modelrollout.devenv import LocalCluster
from modelrollout.devenv.operator import OperatorProcess

V1, V2, V3 = "sa-2-3-1", "sa-2-4-0", "sa-2-5-0"
STEPS: list[dict[str, Any]] = [{"setWeight": 50}, {"pause": {}}]


def cli(cluster: LocalCluster, namespace: str, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "-n", namespace, "--kubeconfig", str(cluster.kubeconfig_path)])


def promoted(kube: Cluster, version: str) -> None:
    kube.wait_status(
        "sa", f"{version} stable", lambda s: s.get("phase") == "Healthy" and s.get("stableVersion") == version
    )


def test_undo_checks_the_version_and_records_the_rollback(
    kube: Cluster, crds: LocalCluster, operator: OperatorProcess
) -> None:
    for name, semver in ((V1, "2.3.1"), (V2, "2.4.0")):
        kube.create(model_version(name, semver))
    kube.create(model_version("other-1-0-0", "1.0.0", model="other"))
    kube.create(canary_rollout("sa", V1, STEPS))
    promoted(kube, V1)
    kube.set_target("sa", V2)
    kube.wait_status("sa", "at the final pause", lambda s: s.get("currentStep") == 1)
    assert cli(crds, kube.namespace, "promote", "sa", "--full").exit_code == 0
    promoted(kube, V2)
    generation = kube.rollout("sa")["metadata"]["generation"]

    for target, needle in (
        ("sa-9-9-9", "ModelVersion 'sa-9-9-9' not found"),
        ("other-1-0-0", "belongs to model 'other', not 'support-agent'"),
    ):
        result = cli(crds, kube.namespace, "undo", "sa", "--to-version", target)
        assert result.exit_code != 0
        [line] = result.output.strip().splitlines()
        assert line.startswith(f"Error: undo {kube.namespace}/sa refused: ")
        assert needle in line
    assert kube.rollout("sa")["metadata"]["generation"] == generation  # nothing was written
    assert kube.rollout("sa")["spec"]["targetVersion"] == V2

    result = cli(crds, kube.namespace, "undo", "sa", "--to-version", V1)
    assert result.exit_code == 0, result.output
    status = kube.wait_status("sa", "undo recorded", lambda s: s.get("candidateVersion") == V1)
    entry = status["history"][-1]
    assert (entry["version"], entry["outcome"]) == (V1, "UndoRequested")
    assert entry["reason"] == f"undo to {V1} requested while {V2} served"
    kube.wait_status("sa", "back at the final pause", lambda s: s.get("currentStep") == 1)
    assert cli(crds, kube.namespace, "promote", "sa", "--full").exit_code == 0
    promoted(kube, V1)
    assert kube.model_version_status(V2)["stage"] == "deprecated"


def test_emergency_stop_returns_all_traffic_to_stable_in_one_pass_and_holds(
    kube: Cluster, crds: LocalCluster, operator: OperatorProcess
) -> None:
    for name, semver in ((V1, "2.3.1"), (V2, "2.4.0"), (V3, "2.5.0")):
        kube.create(model_version(name, semver))
    kube.create(canary_rollout("sa", V1, STEPS))
    promoted(kube, V1)
    kube.set_target("sa", V2)
    kube.wait_status("sa", "candidate at 50 %", lambda s: s.get("currentStep") == 1)
    kube.wait(lambda: kube.replicas("sa") == {"2.3.1": (2, 2), "2.4.0": (2, 2)} or None, "traffic split 2/2")
    assert kube.selected_version("sa") == "*"  # the replicas router: both versions behind the Service

    result = cli(crds, kube.namespace, "stop", "sa")
    assert result.exit_code == 0, result.output
    status = kube.wait_status("sa", "stopped", lambda s: s.get("emergencyStop") is not None)
    # the status write ends the pass that read the stop: its Service changes landed before it
    for service in ("sa", "sa-canary"):
        assert kube.selected_version(service) == "2.3.1", service
    assert status["phase"] == "Paused"
    assert status.get("candidateVersion") is None
    assert status["history"][-1]["outcome"] == "Stopped"
    assert kube.condition("sa", "Paused")["reason"] == "EmergencyStop"  # type: ignore[index]
    assert kube.model_version_status(V2)["stage"] == "staging"
    kube.wait(lambda: kube.replicas("sa") == {"2.3.1": (4, 4), "2.4.0": (0, 0)} or None, "candidate drained")
    assert any(event.startswith("EmergencyStop: all traffic to sa-2-3-1") for event in kube.events("sa"))

    # a new target from Git does not start a rollout while stopped
    kube.set_target("sa", V3)
    kube.hold(
        lambda: kube.status("sa").get("candidateVersion") is None and kube.selected_version("sa") == "2.3.1",
        "holding on stable",
        seconds=3,
    )
    assert "2.5.0" not in kube.replicas("sa")

    assert cli(crds, kube.namespace, "resume", "sa").exit_code == 0
    kube.wait_status("sa", "rolling out after resume", lambda s: s.get("candidateVersion") == V3)
