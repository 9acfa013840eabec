"""The model registry end to end: retention archives the oldest deprecated version, lineage warns
about a missing parent, and the CLI shows chains, refuses an archived target and un-archives it."""

from __future__ import annotations

from typing import Any

from click.testing import CliRunner, Result
from rollouts import Cluster, canary_rollout, model_version

from modelrollout.devenv import LocalCluster
from modelrollout.devenv.operator import OperatorProcess

V1, V2, V3 = "sa-2-3-1", "sa-2-4-0", "sa-2-5-0"
STEPS: list[dict[str, Any]] = [{"setWeight": 50}, {"pause": {"duration": "1s"}}]


def cli(cluster: LocalCluster, namespace: str, *args: str) -> Result:
    from modelrollout.cli.main import main

    return CliRunner().invoke(main, [*args, "-n", namespace, "--kubeconfig", str(cluster.kubeconfig_path)])


def parent_condition(kube: Cluster, name: str) -> dict[str, Any] | None:
    conditions = kube.model_version_status(name).get("conditions") or []
    return next((c for c in conditions if c["type"] == "ParentResolved"), None)


def ship(kube: Cluster, version: str) -> None:
    kube.set_target("sa", version)
    kube.wait_status(
        "sa", f"{version} stable", lambda s: s.get("phase") == "Healthy" and s.get("stableVersion") == version
    )


def test_retention_archives_the_oldest_deprecated_version_and_undo_needs_unarchive(
    kube: Cluster, crds: LocalCluster, operator: OperatorProcess
) -> None:
    kube.create(model_version(V1, "2.3.1"))
    kube.create(model_version(V2, "2.4.0", parentVersion="2.3.1"))
    kube.create(model_version(V3, "2.5.0", parentVersion="2.4.0"))
    kube.create(model_version("sa-2-6-0", "2.6.0", parentVersion="2.5.5"))
    rollout = canary_rollout("sa", V1, STEPS, retention={"keepDeprecated": 1, "archiveAfter": "0s"})
    kube.create(rollout)
    kube.wait_status("sa", "first version", lambda s: s.get("phase") == "Healthy")

    # lineage: a warning condition on the orphan, resolved once its parent is registered
    orphan = kube.wait(
        lambda: ((c := parent_condition(kube, "sa-2-6-0")) and c["status"] == "False" and c) or None, "orphan warned"
    )
    assert orphan["reason"] == "ParentNotFound"
    assert "parentVersion 2.5.5" in orphan["message"]
    assert parent_condition(kube, V2)["reason"] == "ParentFound"  # type: ignore[index]

    ship(kube, V2)
    ship(kube, V3)
    # 2.4.0 is the newest deprecated version and stays ready (its Deployment at 0); 2.3.1 is archived
    kube.wait(lambda: kube.model_version_status(V1).get("stage") == "archived" or None, "2.3.1 archived")
    archived = kube.model_version_status(V1)
    assert "retention of sa: beyond the 1 newest deprecated versions" in archived["reason"]
    kube.wait(lambda: "2.3.1" not in kube.replicas("sa") or None, "archived Deployment deleted")
    kube.wait(lambda: kube.replicas("sa") == {"2.4.0": (0, 0), "2.5.0": (4, 4)} or None, "2.4.0 kept at 0")
    assert kube.model_version_status(V2)["stage"] == "deprecated"
    assert any(event.startswith(f"Archived: {V1}") for event in kube.events("sa"))

    kube.create(model_version("sa-2-5-5", "2.5.5", parentVersion="2.5.0"))
    kube.wait(lambda: ((c := parent_condition(kube, "sa-2-6-0")) and c["status"] == "True") or None, "orphan adopted")

    shown = cli(crds, kube.namespace, "versions", "support-agent")
    assert shown.exit_code == 0, shown.output
    assert "2.3.1 -> 2.4.0 -> 2.5.0 -> 2.5.5 -> 2.6.0" in shown.output
    assert "archived" in shown.output and "deprecated" in shown.output

    # an archived version is no target: undo refuses it until it is un-archived
    refused = cli(crds, kube.namespace, "undo", "sa", "--to-version", V1)
    assert refused.exit_code != 0
    assert "is archived; un-archive it first" in refused.output
    assert kube.rollout("sa")["spec"]["targetVersion"] == V3
    assert cli(crds, kube.namespace, "unarchive", V1).exit_code == 0
    assert kube.model_version_status(V1)["stage"] == "staging"
    assert kube.model_version_status(V1)["history"][-1]["reason"] == "un-archived by user"
    undone = cli(crds, kube.namespace, "undo", "sa", "--to-version", V1)
    assert undone.exit_code == 0, undone.output
    kube.wait_status("sa", "back on 2.3.1", lambda s: s.get("phase") == "Healthy" and s.get("stableVersion") == V1)
