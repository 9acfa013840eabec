"""The userHash router end to end: the operator publishes the route table on the real API server,
and requests routed by `assign` over that table reach the simulators in the table's proportions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from rollouts import Cluster, canary_rollout, model_version

from modelrollout.devenv.operator import OperatorProcess
from modelrollout.routing.assign import TABLE_KEY, load_table
from modelrollout.sim import SimulatorProcess
from modelrollout.sim.users import counts, send_users

STEPS = [{"setWeight": 10}, {"pause": {}}, {"setWeight": 20}, {"pause": {}}]
USER_HASH = {"trafficRouting": {"userHash": {"header": "x-user"}}}
USERS = [f"user-{i}" for i in range(2000)]


def user_hash_rollout(name: str, target: str) -> dict[str, Any]:
    rollout = canary_rollout(name, target, STEPS, replicas=5)
    rollout["spec"]["strategy"]["canary"].update(USER_HASH)
    return rollout


def route_table(kube: Cluster, rollout: str) -> dict[str, Any] | None:
    try:
        config_map = kube.core.read_namespaced_config_map(f"{rollout}-routes", kube.namespace)
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise
    return load_table((config_map.data or {})[TABLE_KEY])


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[dict[str, str]]:
    """One quick simulator per version, without synthetic traffic: version label -> URL."""
    running = [
        SimulatorProcess("sa", label, log_dir=tmp_path, rps=0, latency_ms=1, latency_jitter_ms=0, error_rate=0).start()
        for label in ("2.3.1", "2.4.0")
    ]
    yield {sim.version: sim.url for sim in running}
    for sim in running:
        sim.stop()


def test_user_hash_canary_keeps_users_on_their_version(
    kube: Cluster, operator: OperatorProcess, servers: dict[str, str]
) -> None:
    kube.create(model_version("sa-2-3-1", "2.3.1"))
    kube.create(model_version("sa-2-4-0", "2.4.0"))
    kube.create(user_hash_rollout("sa", "sa-2-3-1"))
    kube.wait_status("sa", "first version healthy", lambda s: s.get("phase") == "Healthy")
    table = kube.wait(lambda: route_table(kube, "sa"), "route table published")
    assert (table["weight"], table["candidate"], table["stable"]["version"]) == (0, None, "sa-2-3-1")
    assert table["header"] == "x-user"
    owner = kube.core.read_namespaced_config_map("sa-routes", kube.namespace).metadata.owner_references[0]
    assert (owner.kind, owner.name, owner.controller) == ("Rollout", "sa", True)
    assert owner.uid == kube.rollout("sa")["metadata"]["uid"]

    kube.set_target("sa", "sa-2-4-0")
    status = kube.wait_status(
        "sa", "paused at 10 %", lambda s: s.get("phase") == "Paused" and s.get("currentStep") == 1
    )
    assert status["canaryWeight"] == 10
    table = route_table(kube, "sa")
    assert table is not None and table["weight"] == 10
    assert table["candidate"] == {"version": "sa-2-4-0", "label": "2.4.0", "service": "sa-canary"}
    # The route table splits, not the pods: stable keeps its 5, the candidate runs one.
    assert kube.replicas("sa") == {"2.3.1": (5, 5), "2.4.0": (1, 1)}
    assert kube.selected_version("sa") == "2.3.1"
    assert kube.selected_version("sa-canary") == "2.4.0"

    at_10 = send_users(table, servers, USERS)
    share = counts(at_10)["2.4.0"] / len(USERS)
    assert 0.07 <= share <= 0.13, share  # 10 %, within 4.5 standard deviations of 2,000 users
    assert send_users(table, servers, USERS[:300]) == {u: at_10[u] for u in USERS[:300]}, "same user, same version"

    kube.control("sa", "promote", "1")
    kube.wait_status("sa", "paused at 20 %", lambda s: s.get("phase") == "Paused" and s.get("currentStep") == 3)
    table = route_table(kube, "sa")
    assert table is not None and table["weight"] == 20
    at_20 = send_users(table, servers, USERS)
    moved_back = [u for u in USERS if at_10[u] == "2.4.0" and at_20[u] != "2.4.0"]
    assert moved_back == [], "raising the weight moves no user back to stable"
    assert counts(at_20)["2.4.0"] > counts(at_10)["2.4.0"]

    kube.control("sa", "abort", "2")
    kube.wait_status("sa", "rolled back", lambda s: s.get("phase") == "RolledBack")
    table = kube.wait(lambda: (t := route_table(kube, "sa")) and t["candidate"] is None and t, "table back to stable")
    assert table["weight"] == 0
    assert set(send_users(table, servers, USERS[:300]).values()) == {"2.3.1"}


def test_a_route_table_the_rollout_did_not_create_is_reported_and_left_alone(
    kube: Cluster, operator: OperatorProcess
) -> None:
    foreign = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="sa-routes"), data={"table.json": '{"owner": "someone else"}'}
    )
    kube.core.create_namespaced_config_map(kube.namespace, foreign)
    kube.create(model_version("sa-2-3-1", "2.3.1"))
    kube.create(model_version("sa-2-4-0", "2.4.0"))
    kube.create(user_hash_rollout("sa", "sa-2-3-1"))
    kube.wait_status("sa", "first version healthy", lambda s: s.get("phase") == "Healthy")
    kube.set_target("sa", "sa-2-4-0")
    status = kube.wait_status(
        "sa", "held", lambda s: s.get("phase") == "Paused" and "sa-routes" in s.get("message", "")
    )
    condition = kube.condition("sa", "TrafficRouting")
    assert condition is not None and condition["status"] == "False" and condition["reason"] == "RouteNotUsable"
    assert "not created by this Rollout" in condition["message"]
    assert status.get("canaryWeight", 0) == 0
    config_map = kube.core.read_namespaced_config_map("sa-routes", kube.namespace)
    assert config_map.data == {"table.json": '{"owner": "someone else"}'} and not config_map.metadata.owner_references

    kube.core.delete_namespaced_config_map("sa-routes", kube.namespace)
    kube.wait_status(
        "sa", "moves on once it is gone", lambda s: s.get("currentStep") == 1 and s.get("phase") == "Paused"
    )
    assert kube.condition("sa", "TrafficRouting")["status"] == "True"  # type: ignore[index]
