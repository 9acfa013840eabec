"""Rollouts whose target cannot be rolled out: InvalidSpec with a message naming the field,
phase Degraded, and nothing created or changed in the cluster until the spec is fixed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rollouts import Cluster, Timeline, canary_rollout, model_version

from modelrollout.api.common import GROUP, VERSION
from modelrollout.devenv.operator import OperatorProcess

V1 = "sa-2-3-1"
STEPS: list[dict[str, Any]] = [{"setWeight": 50}, {"pause": {}}]


def invalid_status(kube: Cluster, name: str) -> dict[str, Any]:
    status = kube.wait_status(
        name,
        "InvalidSpec",
        lambda s: (
            s.get("phase") == "Degraded"
            and any(c["type"] == "InvalidSpec" and c["status"] == "True" for c in s.get("conditions") or [])
        ),
    )
    return status


def set_stage(kube: Cluster, name: str, stage: str) -> None:
    kube.custom.patch_namespaced_custom_object(
        GROUP, VERSION, kube.namespace, "modelversions", name, {"spec": {"stage": stage}}
    )


def missing(kube: Cluster) -> tuple[str, list[str], Callable[[], None]]:
    return (
        "sa-9-9-9",
        ["spec.targetVersion", "'sa-9-9-9' not found"],
        lambda: kube.create(model_version("sa-9-9-9", "9.9.9")),
    )


def other_model(kube: Cluster) -> tuple[str, list[str], Callable[[], None]]:
    kube.create(model_version("other-1-0-0", "1.0.0", model="other-model"))
    kube.create(model_version(V1, "2.3.1"))
    return (
        "other-1-0-0",
        ["spec.targetVersion", "belongs to model 'other-model', not 'support-agent'"],
        lambda: kube.set_target("sa", V1),
    )


def development(kube: Cluster) -> tuple[str, list[str], Callable[[], None]]:
    kube.create(model_version("sa-3-0-0", "3.0.0", stage="development"))
    return (
        "sa-3-0-0",
        ["spec.targetVersion", "stage development", "set its spec.stage to staging"],
        lambda: set_stage(kube, "sa-3-0-0", "staging"),
    )


@pytest.mark.parametrize("case", [missing, other_model, development])
def test_invalid_target_creates_nothing_until_fixed(
    kube: Cluster,
    operator: OperatorProcess,
    case: Callable[[Cluster], tuple[str, list[str], Callable[[], None]]],
) -> None:
    target, expected, fix = case(kube)
    kube.create(canary_rollout("sa", target, STEPS))

    status = invalid_status(kube, "sa")
    condition = kube.condition("sa", "InvalidSpec")
    assert condition is not None
    for text in expected:
        assert text in condition["message"], condition
        assert text in status["message"], status
    assert condition["reason"] == "InvalidSpec"
    assert status.get("stableVersion") is None
    assert any(event.startswith("InvalidSpec: spec.targetVersion") for event in kube.events("sa"))
    kube.hold(
        lambda: kube.deployment_names() == [] and kube.service_names() == [],
        "no Deployment and no Service for an invalid Rollout",
        seconds=1.5,
    )

    fix()
    status = kube.wait_status("sa", "healthy once fixed", lambda s: s.get("phase") == "Healthy")
    condition = kube.condition("sa", "InvalidSpec")
    assert condition is not None and condition["status"] == "False"
    assert kube.selected_version("sa") is not None
    assert kube.deployment_names() != []
    ready = kube.replicas("sa")
    assert list(ready.values()) == [(4, 4)]


def test_invalid_target_on_a_healthy_rollout_changes_nothing(
    kube: Cluster, operator: OperatorProcess, timeline: Timeline
) -> None:
    kube.create(model_version(V1, "2.3.1"))
    kube.create(model_version("sa-2-4-0", "2.4.0", stage="development"))
    kube.create(canary_rollout("sa", V1, STEPS))
    kube.wait_status("sa", "first version healthy", lambda s: s.get("phase") == "Healthy")
    before = (kube.selector("sa"), kube.selector("sa-canary"), kube.replicas("sa"), kube.deployment_names())
    assert before[2] == {"2.3.1": (4, 4)}

    def unchanged() -> bool:
        now = (kube.selector("sa"), kube.selector("sa-canary"), kube.replicas("sa"), kube.deployment_names())
        return now == before

    for target, text in [("sa-9-9-9", "not found"), ("sa-2-4-0", "stage development")]:
        kube.set_target("sa", target)

        def degraded(status: dict[str, Any], text: str = text) -> bool:
            return status.get("phase") == "Degraded" and text in (status.get("message") or "")

        status = kube.wait_status("sa", f"InvalidSpec for {target}", degraded)
        assert status["stableVersion"] == V1
        assert status.get("candidateVersion") is None
        kube.hold(unchanged, f"selectors and replicas unchanged with target {target}", seconds=1.5)
    assert kube.model_version_status("sa-2-4-0")["stage"] == "development"
    assert kube.reasons("sa").count("InvalidSpec") == 2  # one per distinct problem, not one per pass

    kube.set_target("sa", V1)
    kube.wait_status("sa", "healthy again", lambda s: s.get("phase") == "Healthy")
    condition = kube.condition("sa", "InvalidSpec")
    assert condition is not None and condition["status"] == "False"
    assert unchanged()

    timeline.sync()
    assert [str(v) for v in timeline.violations()] == []
    assert timeline.selector_history("sa") == ["2.3.1"]
    assert timeline.selector_history("sa-canary") == ["2.3.1"]
    assert timeline.deployment_replicas("sa-2.3.1") == [4]
    assert "RolloutStarted" not in kube.reasons("sa")
