"""Version analytics end to end: the operator refreshes ModelVersion status.performance from the real
Prometheus scraping simulators, and the figures of two serving versions match the simulators' rates."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from rollouts import Cluster, canary_rollout, model_version

from modelrollout.adapters.kube import KubernetesGateway
from modelrollout.api.settings import AnalyticsSettings, OperatorSettings, PrometheusConnection
from modelrollout.devenv import LocalCluster, LocalPrometheus, wait_until
from modelrollout.devenv.operator import OperatorProcess
from modelrollout.handlers.analysis_runner import PrometheusAnalyzer
from modelrollout.handlers.analytics import PerformanceRefresher
from modelrollout.sim import SimulatorFleet

STABLE, CANDIDATE = "sa-2-3-1", "sa-2-4-0"
RPS = 50.0
WINDOW_SECONDS = 30
# What each simulator is told to do; the figures in status must match within sampling noise.
CONFIGURED: dict[str, dict[str, float]] = {
    STABLE: {
        "error_rate": 0.02,
        "latency_ms": 120.0,
        "quality": 0.85,
        "cost_per_request": 0.002,
        "tokens_per_request": 400,
    },
    CANDIDATE: {
        "error_rate": 0.10,
        "latency_ms": 300.0,
        "quality": 0.70,
        "cost_per_request": 0.004,
        "tokens_per_request": 800,
    },
}


@pytest.fixture
def operator(
    crds: LocalCluster, namespace: str, prometheus: LocalPrometheus, tmp_path: Path
) -> Iterator[OperatorProcess]:
    process = OperatorProcess(
        crds.kubeconfig_path,
        tmp_path / "operator.log",
        namespaces=[namespace],
        prometheus_url=prometheus.url,
        settings={"analytics": {"interval": "2s", "window": f"{WINDOW_SECONDS}s"}},
    ).start()
    yield process
    process.stop()


def close(measured: float | None, expected: float, tolerance: float) -> bool:
    return measured is not None and abs(measured - expected) <= tolerance


def matches(performance: dict[str, Any], configured: dict[str, float]) -> bool:
    """Within sampling noise: 4 standard errors for the error rate, a few % for means; latency
    quantiles within the histogram's bucket resolution (buckets 100/150/200/300/400 ms)."""
    requests = performance.get("requests") or 0
    if requests < RPS * WINDOW_SECONDS / 3:
        return False  # the window has not filled yet
    rate = configured["error_rate"]
    return (
        close(performance.get("errorRate"), rate, 4 * math.sqrt(rate * (1 - rate) / requests))
        and close(performance.get("latencyP50Ms"), configured["latency_ms"], 0.1 * configured["latency_ms"])
        and close(performance.get("latencyP95Ms"), configured["latency_ms"] * 1.4, 0.3 * configured["latency_ms"])
        and close(performance.get("qualityScore"), configured["quality"], 0.02)
        and close(
            performance.get("costPerRequest"), configured["cost_per_request"], 0.1 * configured["cost_per_request"]
        )
        and close(
            performance.get("tokensPerRequest"),
            configured["tokens_per_request"],
            0.1 * configured["tokens_per_request"],
        )
    )


def test_figures_of_two_serving_versions_match_the_simulators(
    kube: Cluster,
    crds: LocalCluster,
    api_client: client.ApiClient,
    prometheus: LocalPrometheus,
    simulators: SimulatorFleet,
    operator: OperatorProcess,
) -> None:
    for name, semver in ((STABLE, "2.3.1"), (CANDIDATE, "2.4.0")):
        kube.create(model_version(name, semver))
        simulators.start("sa", semver, namespace=kube.namespace, rps=RPS, **CONFIGURED[name])
    kube.create(canary_rollout("sa", STABLE, [{"setWeight": 50}, {"pause": {}}]))
    kube.wait_status("sa", "stable", lambda s: s.get("phase") == "Healthy")
    kube.set_target("sa", CANDIDATE)
    kube.wait_status("sa", "both versions serving", lambda s: s.get("currentStep") == 1)

    for name in (STABLE, CANDIDATE):
        last: dict[str, Any] = {}

        def fresh(name: str = name, last: dict[str, Any] = last) -> dict[str, Any] | None:
            last.clear()
            last.update(kube.model_version_status(name).get("performance") or {})
            return last if matches(last, CONFIGURED[name]) else None

        try:
            performance = kube.wait(fresh, f"{name} figures match its simulator", timeout=120)
        except Exception as error:
            raise AssertionError(f"{name}: last performance {last}") from error
        print(f"{name}: {performance}")  # the measured figures, for the record
        assert performance["window"] == f"{WINDOW_SECONDS}s"
        assert performance["qualitySamples"] > 0
        assert performance["observedAt"]

    # printer columns: the key figures in `kubectl get mv`
    table = crds.kubectl("get", "mv", "-n", kube.namespace).stdout
    header, *rows = table.splitlines()
    assert header.split()[:7] == ["NAME", "MODEL", "VERSION", "STAGE", "ERRORS", "P95-MS", "QUALITY"]
    candidate_row = next(row.split() for row in rows if row.startswith(CANDIDATE))
    assert 0.05 < float(candidate_row[4]) < 0.15

    # the cost of a refresh: one Prometheus query for the model, whatever the number of versions
    settings = OperatorSettings(
        prometheus_connections=[PrometheusConnection(name="default", address=prometheus.url)],
        analytics=AnalyticsSettings(window=f"{WINDOW_SECONDS}s"),
    )
    gateway = KubernetesGateway(api_client)
    refresher = PerformanceRefresher(
        gateway, PrometheusAnalyzer(gateway, settings), settings.analytics, clock=lambda: datetime.now(UTC)
    )
    assert refresher.refresh_namespace(kube.namespace) == 1
    wait_until(lambda: kube.model_version_status(STABLE).get("performance"), timeout=5, what="figures kept")
