"""Fixtures of the integration suite that need more than the bare control plane of tests/conftest.py."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client
from rollouts import Cluster, NodeGate, Timeline

from modelrollout.api.crd import RESOURCES
from modelrollout.devenv import LocalCluster, wait_until
from modelrollout.devenv.operator import OperatorProcess

ROOT = Path(__file__).resolve().parents[2]
CRD_DIR = ROOT / "crds"


def install_crds(cluster: LocalCluster, crd_dir: Path = CRD_DIR) -> None:
    """Applies the checked-in CRDs and waits until the API server serves them."""
    # Server-side apply: no last-applied annotation (CRDs grow past its 256 KiB limit), and it
    # updates CRDs that an earlier test run left in a reused cluster.
    cluster.kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=modelrollout-tests",
        "-f",
        str(crd_dir),
    )
    cluster.wait_crds_established(*(resource.name for resource in RESOURCES))


@pytest.fixture(scope="session")
def crds(cluster: LocalCluster) -> LocalCluster:
    """The cluster with the ModelVersion and Rollout CRDs installed (once per test run)."""
    install_crds(cluster)
    return cluster


@pytest.fixture(scope="session")
def gateway_crds(crds: LocalCluster) -> LocalCluster:
    """The cluster with the Gateway API CRDs (standard channel) from the published Go module
    sigs.k8s.io/gateway-api, fetched once into the cache by hack/gateway-api-crds.sh."""
    fetched = subprocess.run(
        [str(ROOT / "hack" / "gateway-api-crds.sh")], capture_output=True, text=True, check=True, timeout=600
    )
    crd_dir = Path(fetched.stdout.strip().splitlines()[-1])
    crds.kubectl(
        "apply", "--server-side", "--force-conflicts", "--field-manager=modelrollout-tests", "-f", str(crd_dir)
    )
    # Polled rather than `kubectl wait`, which fails outright while the new CRD has no status yet.
    established = '{.status.conditions[?(@.type=="Established")].status}'
    wait_until(
        lambda: (
            crds.kubectl(
                "get", "crd", "httproutes.gateway.networking.k8s.io", "-o", f"jsonpath={established}"
            ).stdout.strip()
            == "True"
        ),
        timeout=60,
        what="the HTTPRoute CRD established",
    )
    return crds


@pytest.fixture
def operator(
    crds: LocalCluster, namespace: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[OperatorProcess]:
    """The operator as its own process, watching only this test's namespace. A test that uses the
    `prometheus` fixture gets it as the operator's default connection, as the chart's values set it."""
    prometheus_url = request.getfixturevalue("prometheus").url if "prometheus" in request.fixturenames else None
    process = OperatorProcess(
        crds.kubeconfig_path, tmp_path / "operator.log", namespaces=[namespace], prometheus_url=prometheus_url
    ).start()
    yield process
    process.stop()


@pytest.fixture
def kube(api_client: client.ApiClient, namespace: str) -> Cluster:
    return Cluster(api_client, namespace)


@pytest.fixture
def timeline(crds: LocalCluster, namespace: str, tmp_path: Path) -> Iterator[Timeline]:
    """Watches the namespace's Services, Pods, Deployments and Rollouts for the whole test;
    the record is left in the test's tmp_path as timeline.jsonl."""
    api = crds.api_client()
    recorder = Timeline(api, namespace).start()
    yield recorder
    recorder.stop()
    recorder.dump(tmp_path / "timeline.jsonl")
    api.close()


@pytest.fixture
def gate(api_client: client.ApiClient, namespace: str) -> Iterator[NodeGate]:
    """Keeps the pods of gated ModelVersions Pending until `gate.open()`."""
    node_gate = NodeGate(api_client, namespace)
    yield node_gate
    node_gate.close()
