"""A refused write shows in status and in one Warning Event; nothing claims what did not happen."""

from __future__ import annotations

from kubernetes import client
from rollouts import Cluster, canary_rollout, model_version

from modelrollout.devenv.operator import OperatorProcess


def test_a_refused_service_leaves_an_honest_status_until_the_cause_is_gone(
    kube: Cluster, operator: OperatorProcess
) -> None:
    quota = client.V1ResourceQuota(
        metadata=client.V1ObjectMeta(name="no-services"), spec=client.V1ResourceQuotaSpec(hard={"services": "0"})
    )
    kube.core.create_namespaced_resource_quota(kube.namespace, quota)
    kube.wait(
        lambda: kube.core.read_namespaced_resource_quota("no-services", kube.namespace).status.hard or None,
        "quota counted",
    )
    kube.create(model_version("sa-2-3-1", "2.3.1"))
    kube.create(canary_rollout("sa", "sa-2-3-1", [{"setWeight": 50}, {"pause": {}}]))

    def failed() -> dict[str, str] | None:
        condition = kube.condition("sa", "ActionFailed")
        return condition if condition and condition["status"] == "True" else None

    condition = kube.wait(failed, "ActionFailed condition")
    assert "exceeded quota" in condition["message"] and "(HTTP 403)" in condition["message"]
    # Pods become ready, yet the version never served: no Initialized event, no production stage.
    kube.wait(lambda: kube.replicas("sa") == {"2.3.1": (4, 4)} or None, "pods ready")
    kube.hold(lambda: kube.status("sa").get("phase") == "Initializing", "phase stays Initializing", seconds=12)
    assert "Initialized" not in kube.reasons("sa")
    assert kube.model_version_status("sa-2-3-1").get("stage") != "production"
    assert kube.reasons("sa").count("ActionFailed") == 1, "one Warning Event, not one per retry"

    kube.core.delete_namespaced_resource_quota("no-services", kube.namespace)
    kube.wait_status("sa", "healthy once Services can be created", lambda s: s.get("phase") == "Healthy", timeout=120)
    condition = kube.condition("sa", "ActionFailed")
    assert condition is not None and condition["status"] == "False"
    assert kube.model_version_status("sa-2-3-1")["stage"] == "production"


def test_a_pod_template_the_api_server_refuses_is_an_invalid_spec_with_nothing_created(
    kube: Cluster, operator: OperatorProcess
) -> None:
    bad = model_version("sa-2-3-1", "2.3.1")
    bad["spec"]["template"]["metadata"] = {"labels": {"tier": "not a label value!"}}
    kube.create(bad)
    kube.create(canary_rollout("sa", "sa-2-3-1", [{"setWeight": 50}, {"pause": {}}]))

    def invalid() -> dict[str, str] | None:
        condition = kube.condition("sa", "InvalidSpec")
        return condition if condition and condition["status"] == "True" else None

    condition = kube.wait(invalid, "InvalidSpec condition")
    assert "the API server refuses Deployment sa-2.3.1" in condition["message"]
    assert "not a label value!" in condition["message"]
    assert kube.status("sa")["phase"] == "Degraded"
    kube.hold(lambda: kube.deployment_names() == [] and kube.service_names() == [], "nothing created", seconds=5)
    assert kube.reasons("sa").count("InvalidSpec") == 1
