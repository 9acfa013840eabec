"""A/B tests end to end: the real operator on the real control plane, a real Prometheus scraping one
simulator per version (labelled as a PodMonitor would), and the sequential test deciding from it.

The simulators send synthetic traffic at a fixed rate whatever the split, so these tests judge the
decision and its outcome, not the split's share of requests (the core tests cover the split).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rollouts import Cluster, model_version

from modelrollout.api.common import GROUP, VERSION
from modelrollout.devenv import LocalCluster, LocalPrometheus, wait_until
from modelrollout.devenv.operator import OperatorProcess
from modelrollout.sim import SimulatorFleet, SimulatorProcess

A, B, C = "2.3.1", "2.4.0", "2.5.0"  # version label values
NAMES = {A: "ab-2-3-1", B: "ab-2-4-0", C: "ab-2-5-0"}
BASE: dict[str, float] = {
    "error_rate": 0.01,
    "latency_ms": 120.0,
    "quality": 0.80,
    "quality_jitter": 0.05,
    "rps": 100.0,
}


@pytest.fixture
def operator(
    crds: LocalCluster, namespace: str, prometheus: LocalPrometheus, tmp_path: Path
) -> Iterator[OperatorProcess]:
    process = OperatorProcess(
        crds.kubeconfig_path, tmp_path / "operator.log", namespaces=[namespace], prometheus_url=prometheus.url
    ).start()
    yield process
    process.stop()


def ab_rollout(variants: list[tuple[str, int]], **ab: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Rollout",
        "metadata": {"name": "ab"},
        "spec": {
            "model": "support-agent",
            "targetVersion": NAMES[A],
            "replicas": 4,
            "strategy": {
                "abTest": {
                    "variants": [{"version": NAMES[v], "weight": w} for v, w in variants],
                    "metrics": [{"name": "quality"}, {"name": "errors", "guardrail": True}],
                    "minSamplesPerVariant": 300,
                    "maxDuration": "60s",
                    "promoteWinner": True,
                    **ab,
                }
            },
            "analysis": {
                "interval": "2s",
                "metrics": [{"name": "quality", "preset": "qualityScore"}, {"name": "errors", "preset": "errorRate"}],
            },
        },
    }


def start(
    kube: Cluster,
    prometheus: LocalPrometheus,
    simulators: SimulatorFleet,
    rollout: dict[str, Any],
    sims: dict[str, dict[str, float]],
) -> dict[str, SimulatorProcess]:
    """Simulators scraped, the control serving, then targetVersion moved to B: the test begins."""
    running = {
        version: simulators.start("ab", version, namespace=kube.namespace, **{**BASE, **params})
        for version, params in sims.items()
    }
    for version in sims:
        kube.create(model_version(NAMES[version], version))
    kube.create(rollout)
    kube.wait_status("ab", "control healthy", lambda s: s.get("phase") == "Healthy", timeout=60)
    for sim in running.values():
        labels = ",".join(f'{key}="{value}"' for key, value in sim.labels.items())
        query = f'count_over_time(model_requests_total{{{labels},outcome="success"}}[1m])'
        wait_until(lambda q=query: (prometheus.query_scalar(q) or 0) >= 3, timeout=30, what="scrapes", interval=0.2)
    kube.set_target("ab", NAMES[B])
    return running


def concluded(status: dict[str, Any]) -> bool:
    return status.get("phase") == "Healthy" and (status.get("abTest") or {}).get("concludedGeneration") is not None


def metric(status: dict[str, Any], name: str) -> dict[str, Any]:
    return next(m for m in status["abTest"]["metrics"] if m["metric"] == name)


def test_a_real_quality_lift_is_an_upgrade_and_promoted(
    kube: Cluster, operator: OperatorProcess, prometheus: LocalPrometheus, simulators: SimulatorFleet
) -> None:
    start(kube, prometheus, simulators, ab_rollout([(A, 50), (B, 50)]), {A: {}, B: {"quality": 0.85}})
    status = kube.wait_status("ab", "B promoted", lambda s: concluded(s) and s["stableVersion"] == NAMES[B], 120)
    ab = status["abTest"]
    assert (ab["decision"], ab["winner"]) == ("upgrade", NAMES[B]), ab
    assert ab["confidence"] in ("high", "medium")
    quality = metric(status, "quality")
    comparison = quality["comparisons"][0]
    assert comparison["significant"] == "better" and comparison["ci"][0] > 0 and comparison["pValue"] < 0.025
    assert all(e["samples"] >= 300 and len(e["ci"]) == 2 for e in quality["estimates"])
    assert quality["needs"].startswith("needs ≈ ")
    assert status["history"][-1]["outcome"] == "Promoted"
    assert kube.model_version_status(NAMES[B])["stage"] == "production"
    assert kube.selected_version("ab") == B
    assert any(e.startswith("ABTestConcluded") for e in kube.events("ab"))


def test_an_aa_pair_ends_inconclusive_at_max_duration_and_nothing_is_promoted(
    kube: Cluster, operator: OperatorProcess, prometheus: LocalPrometheus, simulators: SimulatorFleet
) -> None:
    # alpha 0.01 keeps this test's own false-positive chance at 1 % (the unit test checks the 5 % budget).
    rollout = ab_rollout([(A, 50), (B, 50)], maxDuration="20s", alpha=0.01)
    start(kube, prometheus, simulators, rollout, {A: {}, B: {}})
    status = kube.wait_status("ab", "A/A concluded", concluded, 120)
    ab = status["abTest"]
    assert ab["decision"] == "inconclusive" and "no significant difference" in ab["reason"], ab
    assert status["stableVersion"] == NAMES[A]
    # B's share returns to A as A's pods become ready (rollbackPolicy), not necessarily in the same pass.
    kube.wait(lambda: kube.selected_version("ab") == A or None, "traffic back on A")
    assert status["history"][-1]["outcome"] == "Cancelled"
    assert kube.model_version_status(NAMES[B])["stage"] == "staging"
    assert not any(e.startswith("Promoted") for e in kube.events("ab"))


def test_a_higher_error_rate_is_keep_and_never_promoted(
    kube: Cluster, operator: OperatorProcess, prometheus: LocalPrometheus, simulators: SimulatorFleet
) -> None:
    # Below the 5 % critical threshold, so only the guardrail comparison can stop it; quality even looks better.
    start(
        kube, prometheus, simulators, ab_rollout([(A, 50), (B, 50)]), {A: {}, B: {"error_rate": 0.04, "quality": 0.81}}
    )
    status = kube.wait_status("ab", "keep", concluded, 120)
    ab = status["abTest"]
    assert (ab["decision"], ab["winner"]) == ("keep", NAMES[A]), ab
    assert "guardrail errors is significantly worse" in ab["reason"]
    assert metric(status, "errors")["comparisons"][0]["significant"] == "worse"
    assert status["stableVersion"] == NAMES[A]
    # B's share returns to A as A's pods become ready (rollbackPolicy), not necessarily in the same pass.
    kube.wait(lambda: kube.selected_version("ab") == A or None, "traffic back on A")
    assert kube.model_version_status(NAMES[B])["stage"] == "rejected"
    assert not any(e.startswith("Promoted") for e in kube.events("ab"))


def test_three_variants_promote_the_one_that_is_better(
    kube: Cluster, operator: OperatorProcess, prometheus: LocalPrometheus, simulators: SimulatorFleet
) -> None:
    rollout = ab_rollout([(A, 40), (B, 30), (C, 30)])
    start(kube, prometheus, simulators, rollout, {A: {}, B: {}, C: {"quality": 0.86}})
    kube.wait_status("ab", "every variant serves", lambda s: (s.get("abTest") or {}).get("startedAt") is not None)
    assert kube.selected_version("ab") == "*"
    status = kube.wait_status("ab", "C promoted", lambda s: concluded(s) and s["stableVersion"] == NAMES[C], 120)
    ab = status["abTest"]
    assert (ab["decision"], ab["winner"]) == ("upgrade", NAMES[C]), ab
    assert len(metric(status, "quality")["estimates"]) == 3
    assert ab["alphaPerTest"] == pytest.approx(0.05 / 4)
    assert kube.model_version_status(NAMES[C])["stage"] == "production"
    assert kube.model_version_status(NAMES[B])["stage"] == "staging"
    assert kube.selected_version("ab") == C
