"""Pre-upgrade validation end to end: on the blue-green preview, the target must beat the stable
version's quality by 10 % (measured on both at once, real Prometheus scraping simulators) before
any user-facing traffic moves; the verdict is recorded on the target's ModelVersion."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rollouts import Cluster, Timeline, bluegreen_rollout, model_version

from modelrollout.devenv import LocalCluster, LocalPrometheus, wait_until
from modelrollout.devenv.operator import OperatorProcess
from modelrollout.sim import SimulatorFleet, SimulatorProcess

STABLE, TARGET = "sa-2-3-1", "sa-2-4-0"
QUALITY_GAIN = {"name": "quality-gain", "preset": "qualityScore", "minRatioToBaseline": 1.1}


@pytest.fixture
def operator(
    crds: LocalCluster, namespace: str, prometheus: LocalPrometheus, tmp_path: Path
) -> Iterator[OperatorProcess]:
    process = OperatorProcess(
        crds.kubeconfig_path, tmp_path / "operator.log", namespaces=[namespace], prometheus_url=prometheus.url
    ).start()
    yield process
    process.stop()


def scraped(prometheus: LocalPrometheus, sim: SimulatorProcess) -> None:
    labels = ",".join(f'{key}="{value}"' for key, value in sim.labels.items())
    query = f"count_over_time(model_quality_score_count{{{labels}}}[1m])"
    wait_until(lambda: (prometheus.query_scalar(query) or 0) >= 3, timeout=30, what="three scrapes", interval=0.2)


def validated(kube: Cluster) -> dict[str, Any] | None:
    conditions = kube.model_version_status(TARGET).get("conditions") or []
    return next((c for c in conditions if c["type"] == "UpgradeValidated"), None)


def start(
    kube: Cluster, prometheus: LocalPrometheus, simulators: SimulatorFleet, target_quality: float
) -> dict[str, Any]:
    for name, semver, quality in ((STABLE, "2.3.1", 0.85), (TARGET, "2.4.0", target_quality)):
        kube.create(model_version(name, semver))
        sim = simulators.start("sa", semver, namespace=kube.namespace, rps=40.0, quality=quality, quality_jitter=0.02)
        scraped(prometheus, sim)
    rollout = bluegreen_rollout("sa", STABLE, replicas=2, prePromotionAnalysis=["quality-gain"])
    rollout["spec"]["analysis"] = {"interval": "2s", "window": "10s", "metrics": [QUALITY_GAIN]}
    kube.create(rollout)
    kube.wait_status("sa", "stable", lambda s: s.get("phase") == "Healthy")
    kube.set_target("sa", TARGET)
    return rollout


def test_a_target_short_of_the_quality_margin_is_rejected_before_user_traffic(
    kube: Cluster,
    prometheus: LocalPrometheus,
    simulators: SimulatorFleet,
    timeline: Timeline,
    operator: OperatorProcess,
) -> None:
    start(kube, prometheus, simulators, target_quality=0.80)  # 0.94 x the stable's: short of 1.1
    status = kube.wait_status("sa", "rejected", lambda s: s.get("phase") == "RolledBack", timeout=90)
    reason = status["history"][-1]["reason"]
    assert "quality-gain" in reason and "minRatioToBaseline 1.1" in reason, reason
    assert kube.model_version_status(TARGET)["stage"] == "rejected"
    condition = kube.wait(lambda: validated(kube), "validation recorded")
    assert (condition["status"], condition["reason"]) == ("False", "PrePromotionAnalysisFailed")
    assert condition["message"].startswith(f"against {STABLE}: quality-gain=")
    assert any(event.startswith("RolledBack: sa-2-4-0") for event in kube.events("sa"))
    # no user traffic moved: the active Service never selected the target, at any revision
    assert timeline.selector_history("sa") == ["2.3.1"]
    assert timeline.violations() == []


def test_a_target_beating_the_margin_is_recorded_as_validated_then_promoted(
    kube: Cluster, prometheus: LocalPrometheus, simulators: SimulatorFleet, operator: OperatorProcess
) -> None:
    start(kube, prometheus, simulators, target_quality=0.97)  # 1.14 x the stable's
    kube.wait_status(
        "sa", "promoted", lambda s: s.get("phase") == "Healthy" and s.get("stableVersion") == TARGET, timeout=90
    )
    condition = validated(kube)
    assert condition is not None
    assert (condition["status"], condition["reason"]) == ("True", "PrePromotionAnalysisPassed")
    assert f"against {STABLE}: quality-gain=" in condition["message"]
    assert "within minRatioToBaseline 1.1" in condition["message"]
