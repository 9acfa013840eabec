"""Fixtures for the real parts: a local control plane, a local Prometheus, simulators.

The control plane and Prometheus start once per test run (session scope) and only when a test
asks for them, so the unit suite never starts anything. Tests that use them are marked
`cluster` / `prometheus` automatically: `pytest -m "not cluster and not prometheus"` runs the
unit suite alone.
"""

from __future__ import annotations

import re
import secrets
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest
from kubernetes import client

from modelrollout.devenv import LocalCluster, LocalPrometheus, wait_until
from modelrollout.sim import SimulatorFleet

# Fixture name -> marker added to every test that (directly or indirectly) uses it.
_MARKER_FOR_FIXTURE = {"cluster": "cluster", "prometheus": "prometheus"}


def pytest_configure(config: pytest.Config) -> None:
    # CI runners stop a job with SIGTERM, which by default ends Python without cleanup. As a
    # KeyboardInterrupt, pytest tears fixtures down and the control plane's temp dirs go too.
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        for fixture, marker in _MARKER_FOR_FIXTURE.items():
            if fixture in fixtures:
                item.add_marker(marker)


@pytest.fixture(scope="session")
def cluster() -> Iterator[LocalCluster]:
    """etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on loopback.

    Builds missing binaries with hack/build-binaries.sh first (cached after the first run).
    """
    with LocalCluster() as local_cluster:
        yield local_cluster


@pytest.fixture(scope="session")
def api_client(cluster: LocalCluster) -> Iterator[client.ApiClient]:
    """A `kubernetes.client.ApiClient` for the local cluster, as cluster admin."""
    api = cluster.api_client()
    yield api
    api.close()


def _namespace_name(test_name: str) -> str:
    slug = re.sub(r"[^a-z0-9-]+", "-", test_name.lower().removeprefix("test_").replace("_", "-")).strip("-")
    return f"{slug[:50].rstrip('-') or 'test'}-{secrets.token_hex(3)}"


@pytest.fixture
def namespace(api_client: client.ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace named after the test; deleted afterwards without waiting."""
    core = client.CoreV1Api(api_client)
    name = _namespace_name(request.node.name)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    # Pods are rejected until the namespace's default ServiceAccount exists.
    wait_until(
        lambda: core.read_namespaced_service_account("default", name),
        timeout=30,
        what=f"ServiceAccount default in {name}",
    )
    yield name
    core.delete_namespace(name)


@pytest.fixture(scope="session")
def prometheus() -> Iterator[LocalPrometheus]:
    """A Prometheus server scraping every second; targets come from the `simulators` fixture."""
    with LocalPrometheus(scrape_interval="1s") as server:
        yield server


@pytest.fixture
def simulators(prometheus: LocalPrometheus, tmp_path: Path) -> Iterator[SimulatorFleet]:
    """Starts simulators registered as targets of `prometheus`: `simulators.start(rollout,
    version, namespace=..., error_rate=..., rps=...)`. All are stopped after the test."""
    fleet = SimulatorFleet(prometheus, log_dir=tmp_path / "simulators")
    yield fleet
    fleet.stop_all()
