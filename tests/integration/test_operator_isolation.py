"""One Rollout's slow Prometheus never stalls another Rollout: each has its own worker."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from rollouts import Cluster, canary_rollout, model_version

from modelrollout.devenv import LocalCluster
from modelrollout.devenv.operator import OperatorProcess


@pytest.fixture
def silent_prometheus() -> Iterator[str]:
    """A server that accepts connections and never answers: every query waits for its timeout."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    server.close()


@pytest.fixture
def operator(crds: LocalCluster, namespace: str, silent_prometheus: str, tmp_path: Path) -> Iterator[OperatorProcess]:
    """The operator with a connection named `silent` to the server that never answers."""
    settings = {"prometheusConnections": [{"name": "silent", "address": silent_prometheus}]}
    process = OperatorProcess(
        crds.kubeconfig_path, tmp_path / "operator.log", namespaces=[namespace], settings=settings
    )
    yield process.start()
    process.stop()


def test_a_hanging_prometheus_does_not_stall_another_rollout(
    kube: Cluster, operator: OperatorProcess, silent_prometheus: str
) -> None:
    kube.create(model_version("sa-2-3-1", "2.3.1"))
    kube.create(model_version("sa-2-4-0", "2.4.0"))
    slow = canary_rollout("slow", "sa-2-3-1", [{"setWeight": 50}, {"analysis": {"metrics": ["error-rate"]}}])
    slow["spec"]["analysis"] = {
        "interval": "1s",
        # Long enough that a worker shared with `fast` would hold `fast` up for all of it, per pass.
        "prometheus": {"connection": "silent", "timeout": "30s"},
        "metrics": [{"name": "error-rate", "preset": "errorRate"}],
    }
    steps = [{"setWeight": 25}, {"pause": {"duration": "1s"}}, {"setWeight": 50}, {"pause": {"duration": "1s"}}]
    kube.create(slow)
    kube.create(canary_rollout("fast", "sa-2-3-1", steps))
    for name in ("slow", "fast"):
        kube.wait_status(name, f"{name} healthy", lambda s: s.get("phase") == "Healthy")

    kube.set_target("slow", "sa-2-4-0")
    # Once the candidate has traffic, background analysis queries the silent server and hangs.
    kube.wait_status("slow", "slow rollout's candidate has traffic", lambda s: (s.get("canaryWeight") or 0) > 0)
    kube.set_target("fast", "sa-2-4-0")
    fast = kube.wait_status(
        "fast", "fast rollout promoted", lambda s: s.get("phase") == "Healthy" and s.get("stableVersion") == "sa-2-4-0"
    )
    assert fast["history"][-1]["outcome"] == "Promoted"
    slow_status = kube.status("slow")
    assert slow_status["candidateVersion"] == "sa-2-4-0", "the slow rollout never promotes without data"
    assert slow_status["stableVersion"] == "sa-2-3-1"
    # Its first query is still hanging: everything `fast` did happened meanwhile.
    assert not (slow_status.get("analysis") or {}).get("measurements"), slow_status.get("analysis")
