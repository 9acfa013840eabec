"""Two operators, one Lease: only the leader acts; when it is killed the standby takes over."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client
from rollouts import Cluster, canary_rollout, model_version

from modelrollout.devenv import LocalCluster
from modelrollout.devenv.operator import OperatorProcess

LEASE = "modelrollout-operator"
STEPS = [{"setWeight": 50}, {"pause": {"duration": "1s"}}]


@pytest.fixture
def operators(crds: LocalCluster, namespace: str, tmp_path: Path) -> Iterator[list[OperatorProcess]]:
    settings = {"namespace": namespace, "leaderElection": {"enabled": True}}
    processes = [
        OperatorProcess(crds.kubeconfig_path, tmp_path / f"operator-{i}.log", namespaces=[namespace], settings=settings)
        for i in range(2)
    ]
    for process in processes:
        process.start()
    yield processes
    for process in processes:
        process.stop()


def holder(api_client: client.ApiClient, namespace: str) -> int | None:
    """The process id of the Lease holder (identities are `<host>_<pid>`)."""
    try:
        lease = client.CoordinationV1Api(api_client).read_namespaced_lease(LEASE, namespace)
    except client.ApiException:
        return None
    identity = lease.spec.holder_identity or ""
    return int(identity.rsplit("_", 1)[1]) if "_" in identity else None


def test_only_the_leader_acts_and_the_standby_takes_over_when_it_dies(
    kube: Cluster, operators: list[OperatorProcess], api_client: client.ApiClient, namespace: str
) -> None:
    pids = {process.process.pid: process for process in operators if process.process is not None}
    leader_pid = kube.wait(lambda: holder(api_client, namespace), "a leader")
    assert leader_pid in pids
    kube.create(model_version("sa-2-3-1", "2.3.1"))
    kube.create(model_version("sa-2-4-0", "2.4.0"))
    kube.create(canary_rollout("sa", "sa-2-3-1", STEPS))
    kube.wait_status("sa", "first version healthy", lambda s: s.get("phase") == "Healthy")
    assert kube.reasons("sa").count("Initialized") == 1, "one operator acted"

    pids[leader_pid].kill()
    killed = time.monotonic()
    kube.set_target("sa", "sa-2-4-0")
    kube.wait(lambda: (holder(api_client, namespace) or leader_pid) != leader_pid or None, "a new leader", 60)
    kube.wait_status(
        "sa",
        "promoted by the new leader",
        lambda s: s.get("stableVersion") == "sa-2-4-0" and s.get("phase") == "Healthy",
    )
    print(f"takeover: promoted {time.monotonic() - killed:.1f}s after the leader was killed")
    assert kube.reasons("sa").count("RolloutStarted") == 1
    assert kube.reasons("sa").count("Promoted") == 1
