"""The Argo CD health checks and actions of docs/argocd, run by Lua 5.1 against the objects of a real
rollout as the operator writes them; the actions' output is applied as Argo CD would (a patch)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from argocd import ARGOCD, act, enabled_actions, health
from rollouts import Cluster, canary_rollout, model_version

from modelrollout.api.controls import CONTROL_ANNOTATION
from modelrollout.devenv.operator import OperatorProcess

STEPS = [{"setWeight": 50}, {"pause": {}}]


def mro(kube: Cluster, name: str) -> dict[str, Any]:
    return kube.rollout(name)


def mv(kube: Cluster, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = kube.custom.get_namespaced_custom_object(
        "modelrollout.io", "v1alpha1", kube.namespace, "modelversions", name
    )  # type: ignore[assignment]
    return obj


def apply_action(kube: Cluster, verb: str, rollout: dict[str, Any]) -> str:
    """Runs the action and patches what it changed, as Argo CD does; returns the control value."""
    result = act(verb, rollout)
    value = result["metadata"]["annotations"][CONTROL_ANNOTATION]
    assert value.startswith(f"{verb}/argocd-")
    assert result["spec"] == rollout["spec"]  # actions never edit what Git owns
    kube.patch_rollout(rollout["metadata"]["name"], {"metadata": {"annotations": {CONTROL_ANNOTATION: value}}})
    return value


def test_health_and_actions_follow_a_real_rollout(kube: Cluster, operator: OperatorProcess, tmp_path: Path) -> None:
    captured: dict[str, dict[str, Any]] = {}
    for name, version in (("sa-2-3-1", "2.3.1"), ("sa-2-4-0", "2.4.0"), ("sa-2-5-0", "2.5.0")):
        kube.create(model_version(name, version))
    kube.create(canary_rollout("sa", "sa-2-3-1", STEPS, replicas=2))

    kube.wait_status("sa", "healthy", lambda s: s.get("phase") == "Healthy")
    captured["healthy"] = healthy = mro(kube, "sa")
    assert health("Rollout", healthy) == ("Healthy", "Serving sa-2-3-1")
    assert health("ModelVersion", mv(kube, "sa-2-3-1")) == ("Healthy", "Stage production")
    assert enabled_actions(healthy) == {"pause"}
    # Git changed the spec and the operator has not caught up yet: not Healthy any more.
    stale = {**healthy, "metadata": {**healthy["metadata"], "generation": healthy["metadata"]["generation"] + 1}}
    assert health("Rollout", stale)[0] == "Progressing"

    kube.set_target("sa", "sa-2-4-0")
    kube.wait_status("sa", "paused", lambda s: s.get("phase") == "Paused" and s.get("canaryWeight") == 50)
    captured["paused"] = paused = mro(kube, "sa")
    status, message = health("Rollout", paused)
    assert status == "Suspended" and message == paused["status"]["message"]
    assert enabled_actions(paused) == {"promote", "promote-full", "abort", "pause"}

    apply_action(kube, "promote", paused)
    kube.wait_status("sa", "promoted", lambda s: s.get("phase") == "Healthy" and s.get("stableVersion") == "sa-2-4-0")
    assert health("ModelVersion", mv(kube, "sa-2-3-1")) == ("Healthy", "Stage deprecated")

    kube.set_target("sa", "sa-2-5-0")
    kube.wait_status("sa", "paused again", lambda s: s.get("phase") == "Paused")
    apply_action(kube, "pause", mro(kube, "sa"))
    kube.wait_status("sa", "paused by user", lambda s: s.get("pausedByUser") is True)
    captured["paused-by-user"] = by_user = mro(kube, "sa")
    assert enabled_actions(by_user) == {"promote", "promote-full", "abort", "resume"}
    apply_action(kube, "resume", by_user)
    kube.wait_status("sa", "resumed", lambda s: s.get("pausedByUser") is False)

    apply_action(kube, "abort", mro(kube, "sa"))
    kube.wait_status("sa", "rolled back", lambda s: s.get("phase") == "RolledBack")
    captured["rolled-back"] = rolled_back = mro(kube, "sa")
    status, message = health("Rollout", rolled_back)
    assert status == "Degraded" and "aborted by user" in message
    captured["rejected-version"] = rejected = mv(kube, "sa-2-5-0")
    assert health("ModelVersion", rejected) == ("Degraded", "Rejected by sa: aborted by user")
    assert enabled_actions(rolled_back) == {"retry", "pause"}

    apply_action(kube, "retry", rolled_back)
    kube.wait_status("sa", "retrying", lambda s: s.get("phase") == "Paused" and s.get("candidateVersion") == "sa-2-5-0")
    apply_action(kube, "promote-full", mro(kube, "sa"))
    kube.wait_status("sa", "promoted fully", lambda s: s.get("stableVersion") == "sa-2-5-0")

    # An invalid spec is Degraded with the operator's message.
    kube.create(canary_rollout("broken", "no-such-version", STEPS, replicas=2))
    kube.wait_status("broken", "invalid", lambda s: s.get("phase") == "Degraded")
    captured["invalid"] = invalid = mro(kube, "broken")
    status, message = health("Rollout", invalid)
    assert status == "Degraded" and "no-such-version" in message
    # Kept beside the test's other logs, for whoever changes the scripts next.
    (tmp_path / "argocd-objects.json").write_text(json.dumps(captured, indent=1))


def test_argocd_cm_embeds_the_scripts_verbatim() -> None:
    config = yaml.safe_load((ARGOCD / "argocd-cm.yaml").read_text())["data"]
    assert (
        config["resource.customizations.health.modelrollout.io_Rollout"] == (ARGOCD / "health-rollout.lua").read_text()
    )
    assert (
        config["resource.customizations.health.modelrollout.io_ModelVersion"]
        == (ARGOCD / "health-modelversion.lua").read_text()
    )
    actions = yaml.safe_load(config["resource.customizations.actions.modelrollout.io_Rollout"])
    assert actions["discovery.lua"] == (ARGOCD / "actions" / "discovery.lua").read_text()
    for definition in actions["definitions"]:
        assert definition["action.lua"] == (ARGOCD / "actions" / f"{definition['name']}.lua").read_text()
    assert sorted(d["name"] for d in actions["definitions"]) == sorted(
        p.stem for p in (ARGOCD / "actions").glob("*.lua") if p.stem != "discovery"
    )
