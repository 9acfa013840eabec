"""Two Rollouts rolling out one ModelVersion: one aborts, the other goes on by its own verdict.

Rollouts `sa` and `sb` (two regions, say) both split 2.3.1/2.4.0 at 50 %. `sb` aborts, so the
shared ModelVersion's registry entry says `rejected` by `sb`. `sa` must not freeze (a spec made
invalid mid-split, analysis stopped): it stays at its step, says it saw the other verdict, and
promotes when told to, saying that this was its own verdict.
"""

from __future__ import annotations

from typing import Any

from rollouts import Cluster, Timeline, canary_rollout, model_version

from modelrollout.devenv.operator import OperatorProcess

V1, V2 = "sa-2-3-1", "sa-2-4-0"


def paused_at_fifty(status: dict[str, Any]) -> bool:
    return status.get("phase") == "Paused" and status.get("currentStep") == 1


def test_a_rejection_by_another_rollout_mid_split_neither_freezes_nor_decides_for_this_one(
    kube: Cluster, operator: OperatorProcess, timeline: Timeline
) -> None:
    kube.create(model_version(V1, "2.3.1"))
    kube.create(model_version(V2, "2.4.0"))
    steps: list[dict[str, Any]] = [{"setWeight": 50}, {"pause": {}}]
    for name in ("sa", "sb"):
        kube.create(canary_rollout(name, V1, steps, replicas=2))
    for name in ("sa", "sb"):
        kube.wait_status(name, f"{name} healthy on 2.3.1", lambda s: s.get("phase") == "Healthy")
        kube.set_target(name, V2)
    for name in ("sa", "sb"):
        kube.wait_status(name, f"{name} paused at 50 %", paused_at_fifty)

    kube.control("sb", "abort", "1")
    kube.wait_status("sb", "sb rolled back", lambda s: s.get("phase") == "RolledBack")
    kube.wait(
        lambda: kube.model_version_status(V2).get("rollout") == "sb" or None, "the registry says sb rejected 2.4.0"
    )
    assert kube.model_version_status(V2)["stage"] == "rejected"

    kube.wait(lambda: "ForeignRejection" in kube.reasons("sa") or None, "sa noticed the other verdict")
    kube.hold(
        lambda: paused_at_fifty(kube.status("sa")) and kube.selected_version("sa") == "*",
        "sa holds its split, valid and by its own rules",
        seconds=3,
    )
    invalid = kube.condition("sa", "InvalidSpec")
    assert invalid is None or invalid["status"] == "False", invalid
    foreign = kube.condition("sa", "ForeignRejection")
    assert foreign is not None and (foreign["status"], foreign["reason"]) == ("True", "RejectedByOtherRollout")
    assert "rejected by Rollout sb" in foreign["message"]

    kube.control("sa", "promote", "2")
    kube.wait_status("sa", "sa promoted 2.4.0", lambda s: s.get("phase") == "Healthy" and s.get("stableVersion") == V2)
    foreign = kube.condition("sa", "ForeignRejection")
    assert foreign is not None and (foreign["status"], foreign["reason"]) == ("False", "Promoted")
    assert any(
        e.startswith("OwnVerdict") and "rejected by Rollout sb; Promoted here by sa's own analysis" in e
        for e in kube.events("sa")
    ), kube.events("sa")
    assert kube.occurrences("sa", "ForeignRejection") == 1
    entry = kube.model_version_status(V2)
    assert (entry["stage"], entry["rollout"]) == ("production", "sa")
    # sb stays rolled back on its own stable version.
    assert kube.status("sb")["phase"] == "RolledBack" and kube.status("sb")["stableVersion"] == V1

    timeline.sync()
    assert [str(v) for v in timeline.violations()] == []
