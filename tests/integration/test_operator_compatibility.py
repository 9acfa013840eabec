"""Compatibility gates end to end: a breaking target is refused as InvalidSpec, with nothing moved,
until the Rollout allows the conflict; then it rolls out as usual."""

from __future__ import annotations

from typing import Any

from rollouts import Cluster, canary_rollout, model_version

from modelrollout.devenv.operator import OperatorProcess

STABLE, BREAKING = "sa-2-3-1", "sa-3-0-0"
STEPS: list[dict[str, Any]] = [{"setWeight": 50}, {"pause": {"duration": "1s"}}]


def test_breaking_target_is_refused_until_the_rollout_allows_it(kube: Cluster, operator: OperatorProcess) -> None:
    kube.create(model_version(STABLE, "2.3.1", compatibility={"minApiVersion": "v3"}))
    kube.create(
        model_version(
            BREAKING,
            "3.0.0",
            compatibility={"minApiVersion": "v3", "breakingChanges": ["answers are JSON objects"]},
        )
    )
    kube.create(canary_rollout("sa", STABLE, STEPS))
    kube.wait_status("sa", "stable healthy", lambda s: s.get("phase") == "Healthy")
    kube.wait(lambda: kube.replicas("sa") == {"2.3.1": (4, 4)} or None, "stable at full size")

    kube.set_target("sa", BREAKING)
    status = kube.wait_status(
        "sa",
        "InvalidSpec",
        lambda s: any(c["type"] == "InvalidSpec" and c["status"] == "True" for c in s.get("conditions") or []),
    )
    condition = kube.condition("sa", "InvalidSpec")
    assert condition is not None
    message = condition["message"]
    assert "major version change from the stable sa-2-3-1 (2.3.1)" in message
    assert "spec.compatibility.allowMajorVersionChange: true" in message
    assert "answers are JSON objects" in message
    assert "spec.compatibility.allowBreakingChanges: true" in message
    assert status["phase"] == "Degraded"
    assert status["stableVersion"] == STABLE
    assert status.get("candidateVersion") is None
    assert any(event.startswith("InvalidSpec: spec.targetVersion") for event in kube.events("sa"))
    # nothing moved: no Deployment for the target, every Service still on the stable version
    kube.hold(
        lambda: kube.replicas("sa") == {"2.3.1": (4, 4)} and kube.selected_version("sa") == "2.3.1",
        "stable alone",
        seconds=3,
    )
    assert kube.model_version_status(BREAKING)["stage"] == "staging"

    # allowing only one of the two conflicts still refuses, naming the other
    kube.patch_rollout("sa", {"spec": {"compatibility": {"allowMajorVersionChange": True}}})
    kube.wait(
        lambda: (
            (
                (c := kube.condition("sa", "InvalidSpec"))
                and "allowMajorVersionChange" not in c["message"]
                and "allowBreakingChanges" in c["message"]
            )
            or None
        ),
        "only the breaking-changes conflict left",
    )

    kube.patch_rollout("sa", {"spec": {"compatibility": {"allowBreakingChanges": True}}})
    kube.wait_status(
        "sa",
        "promoted after allowing",
        lambda s: s.get("phase") == "Healthy" and s.get("stableVersion") == BREAKING,
        timeout=90,
    )
    condition = kube.condition("sa", "InvalidSpec")
    assert condition is not None and condition["status"] == "False"
    assert kube.history("sa")[-1] == (BREAKING, "Promoted")
