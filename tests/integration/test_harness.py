"""The harness itself works: real Deployments, Services and Prometheus queries, no mocks.

Everything that takes time is polled with a deadline; nothing asserts on wall-clock time.
"""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import pytest
from kubernetes import client

from modelrollout.devenv import LocalCluster, LocalPrometheus, wait_until
from modelrollout.sim import SimulatorFleet, SimulatorProcess

APP_LABEL = "app"


def make_deployment(name: str, replicas: int) -> client.V1Deployment:
    labels = {APP_LABEL: name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(
                    containers=[
                        client.V1Container(
                            name="model",
                            image="example.invalid/model-server:1",  # kwok never pulls it
                            ports=[client.V1ContainerPort(container_port=8080, name="http")],
                        )
                    ]
                ),
            ),
        ),
    )


def wait_available(apps: client.AppsV1Api, namespace: str, name: str, replicas: int) -> client.V1Deployment:
    def available() -> client.V1Deployment | None:
        deployment = apps.read_namespaced_deployment(name, namespace)
        status = deployment.status
        done = (
            status.observed_generation == deployment.metadata.generation
            and status.available_replicas == replicas
            and status.ready_replicas == replicas
        )
        return deployment if done else None

    result: client.V1Deployment = wait_until(available, timeout=60, what=f"deployment {name} available")
    return result


def test_deployment_becomes_available(cluster: LocalCluster, api_client: client.ApiClient, namespace: str) -> None:
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    apps.create_namespaced_deployment(namespace, make_deployment("model", replicas=3))

    deployment = wait_available(apps, namespace, "model", replicas=3)

    assert deployment.status.available_replicas == 3
    conditions = {condition.type: condition.status for condition in deployment.status.conditions}
    assert conditions["Available"] == "True"
    pods = core.list_namespaced_pod(namespace, label_selector=f"{APP_LABEL}=model").items
    assert len(pods) == 3
    for pod in pods:
        assert pod.spec.node_name in cluster.node_names
        assert pod.status.phase == "Running"
        assert pod.status.pod_ip
        ready = [condition for condition in pod.status.conditions if condition.type == "Ready"]
        assert [condition.status for condition in ready] == ["True"]
    # The kubectl helper talks to the same cluster.
    listed = cluster.kubectl("get", "deployment", "model", "-n", namespace, "-o", "name").stdout.strip()
    assert listed == "deployment.apps/model"


def test_service_gets_endpoint_slices_for_ready_pods(api_client: client.ApiClient, namespace: str) -> None:
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    discovery = client.DiscoveryV1Api(api_client)
    apps.create_namespaced_deployment(namespace, make_deployment("model", replicas=2))
    core.create_namespaced_service(
        namespace,
        client.V1Service(
            metadata=client.V1ObjectMeta(name="model"),
            spec=client.V1ServiceSpec(
                selector={APP_LABEL: "model"},
                ports=[client.V1ServicePort(port=80, target_port="http")],
            ),
        ),
    )
    wait_available(apps, namespace, "model", replicas=2)

    def ready_addresses() -> set[str] | None:
        slices = discovery.list_namespaced_endpoint_slice(
            namespace, label_selector="kubernetes.io/service-name=model"
        ).items
        addresses = {
            address
            for endpoint_slice in slices
            for endpoint in endpoint_slice.endpoints or []
            if endpoint.conditions.ready
            for address in endpoint.addresses
        }
        return addresses if len(addresses) == 2 else None

    addresses = wait_until(ready_addresses, timeout=60, what="2 ready endpoints for service model")

    pods = core.list_namespaced_pod(namespace, label_selector=f"{APP_LABEL}=model").items
    assert addresses == {pod.status.pod_ip for pod in pods}


def error_ratio_query(rollout: str, version: str, window: str) -> str:
    selector = f'rollout="{rollout}",version="{version}"'
    return (
        f'sum(rate(model_requests_total{{{selector},outcome="error"}}[{window}]))'
        f" / sum(rate(model_requests_total{{{selector}}}[{window}]))"
    )


def error_ratio_at(prometheus: LocalPrometheus, simulator: SimulatorProcess, at: float, window_s: int) -> float:
    """The error ratio over (at - window_s, at], once Prometheus has scraped up to `at`."""
    selector = f'model_requests_total{{rollout="{simulator.rollout}",version="{simulator.version}"}}'
    prometheus.wait_for_samples_until(selector, at)
    value = prometheus.query_scalar(error_ratio_query(simulator.rollout, simulator.version, f"{window_s}s"), at=at)
    assert value is not None, "no data for the error-ratio query"
    return value


def test_prometheus_measures_the_configured_error_rate(prometheus: LocalPrometheus, simulators: SimulatorFleet) -> None:
    # 200 requests/s over 6 s: ~1200 requests, so the standard error of the ratio is ~0.012 and
    # the ±0.06 tolerance is five standard errors.
    simulator = simulators.start("harness", "1.0.0", rps=200, error_rate=0.2, seed=7)
    prometheus.wait_for_target_up(simulator.address)

    ratio = error_ratio_at(prometheus, simulator, at=time.time() + 7, window_s=6)

    assert abs(ratio - 0.2) <= 0.06
    series = prometheus.query('model_requests_total{rollout="harness",version="1.0.0"}')
    assert {item["metric"]["outcome"] for item in series} == {"success", "error"}
    assert {item["metric"]["namespace"] for item in series} == {"default"}


def test_runtime_change_of_error_rate_shows_in_prometheus(
    prometheus: LocalPrometheus, simulators: SimulatorFleet
) -> None:
    simulator = simulators.start("harness-flip", "2.0.0", rps=200, error_rate=0.02, seed=11)
    prometheus.wait_for_target_up(simulator.address)
    before = error_ratio_at(prometheus, simulator, at=time.time() + 6, window_s=5)

    assert simulator.set(error_rate=0.5)["error_rate"] == 0.5
    flipped_at = time.time()
    # The window opens a second after the change, so it holds only post-change requests
    # (~1200 of them: standard error ~0.014, tolerance ±0.08).
    after = error_ratio_at(prometheus, simulator, at=flipped_at + 7, window_s=6)

    assert before <= 0.08
    assert abs(after - 0.5) <= 0.08
    assert simulator.get()["error_rate"] == 0.5


@pytest.mark.prometheus  # its own server, not the shared fixture
def test_prometheus_stops_and_restarts_with_its_data(tmp_path: Path) -> None:
    with (
        LocalPrometheus(tmp_path / "prometheus") as prometheus,
        SimulatorProcess("harness-restart", "1.0.0", rps=50, log_dir=tmp_path) as simulator,
    ):
        prometheus.add_target(simulator.address, simulator.labels)
        prometheus.wait_for_target_up(simulator.address)
        selector = 'model_requests_total{rollout="harness-restart"}'
        first_seen = prometheus.latest_sample_time(selector)
        assert first_seen is not None
        url = prometheus.url

        prometheus.stop()
        assert not prometheus.running()
        wait_until(lambda: not _reachable(url), timeout=10, what="prometheus to stop listening")

        restarted_at = time.time()
        prometheus.start()
        assert prometheus.url == url
        # Data from before the outage survived...
        assert prometheus.query(selector, at=first_seen)
        # ...and scraping resumed.
        prometheus.wait_for_samples_until(selector, restarted_at)


def _reachable(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=1):
            return True
    except OSError:
        return False
