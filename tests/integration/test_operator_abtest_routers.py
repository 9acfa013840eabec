"""A/B tests on the userHash and gatewayAPI routers end to end: the real operator on the real control
plane, a real Prometheus scraping one simulator per version, and the split read back from the objects
the operator writes (the route table ConfigMap, the user's HTTPRoute).

promoteWinner is off so that the split holds from the start of the test to its decision, and a
`promote` ends it: the tests read the route object at both ends of the test.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client
from rollouts import Cluster
from test_operator_abtest import NAMES, A, B, C, ab_rollout, concluded, start
from test_operator_userhash import route_table

from modelrollout.devenv import LocalCluster, LocalPrometheus
from modelrollout.devenv.operator import OperatorProcess
from modelrollout.routing.assign import assign
from modelrollout.sim import SimulatorFleet
from modelrollout.sim.users import send_users

GROUP, VERSION, PLURAL = "gateway.networking.k8s.io", "v1", "httproutes"
USERS = [f"user-{i}" for i in range(4000)]


def started(status: dict[str, Any]) -> bool:
    return (status.get("abTest") or {}).get("startedAt") is not None


def decided(status: dict[str, Any]) -> bool:
    return status.get("phase") == "Paused" and (status.get("abTest") or {}).get("decision") == "upgrade"


def labels(table: dict[str, Any], users: list[str] = USERS) -> dict[str, str]:
    return {user: assign(user, table)["label"] for user in users}


def test_user_hash_ab_keeps_each_user_on_one_variant_for_the_whole_test(
    kube: Cluster, operator: OperatorProcess, prometheus: LocalPrometheus, simulators: SimulatorFleet
) -> None:
    rollout = ab_rollout([(A, 50), (B, 50)], promoteWinner=False, trafficRouting={"userHash": {"header": "x-user"}})
    sims = start(kube, prometheus, simulators, rollout, {A: {}, B: {"quality": 0.85}})
    kube.wait_status("ab", "every variant serves", started)
    first = route_table(kube, "ab")
    assert first is not None and first["header"] == "x-user"
    variants = {v["version"]: v for v in first["variants"]}
    assert {v: (e["label"], e["weight"]) for v, e in variants.items()} == {NAMES[B]: (B, 50), NAMES[A]: (A, 50)}
    assert variants[NAMES[A]]["service"] == "ab" and variants[NAMES[B]]["service"] == "ab-ab-1"
    assert kube.selected_version("ab") == A and kube.selected_version("ab-ab-1") == B
    at_start = labels(first)
    share = sum(label == B for label in at_start.values()) / len(USERS)
    assert 0.45 <= share <= 0.55, share  # 50 %, within 4.5 standard deviations of 4,000 users

    # Requests routed by the table reach the version the table names, user by user.
    urls = {version: sim.url for version, sim in sims.items()}
    answered = send_users(first, urls, USERS[:300])
    assert answered == {user: at_start[user] for user in USERS[:300]}

    kube.wait_status("ab", "decided: the split holds until promote", decided, timeout=120)
    at_decision = route_table(kube, "ab")
    assert at_decision is not None and labels(at_decision) == at_start, "no user moved during the test"

    kube.control("ab", "promote", "1")
    status = kube.wait_status("ab", "B promoted", lambda s: concluded(s) and s["stableVersion"] == NAMES[B], 120)
    assert status["abTest"]["winner"] == NAMES[B]
    table = kube.wait(lambda: (t := route_table(kube, "ab")) and t["stable"]["version"] == NAMES[B] and t, "table")
    assert table["candidate"] is None and "variants" not in table
    assert set(labels(table).values()) == {B}, "every user on the winner"
    assert kube.selected_version("ab") == B


class Routes:
    def __init__(self, kube: Cluster) -> None:
        self.kube = kube

    def create(self) -> None:
        route = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "HTTPRoute",
            "metadata": {"name": "ab-route"},
            "spec": {
                "parentRefs": [{"name": "public"}],
                "rules": [
                    {
                        "matches": [{"path": {"type": "PathPrefix", "value": "/v1"}}],
                        "backendRefs": [{"name": "ab", "port": 80}],
                    }
                ],
            },
        }
        self.kube.custom.create_namespaced_custom_object(GROUP, VERSION, self.kube.namespace, PLURAL, route)

    def weights(self) -> dict[str, int]:
        route: dict[str, Any] = self.kube.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.kube.namespace, PLURAL, "ab-route"
        )  # type: ignore[assignment]
        return {ref["name"]: ref.get("weight", 1) for ref in route["spec"]["rules"][0]["backendRefs"]}


def test_gateway_api_ab_puts_exact_weights_on_the_http_route_and_ends_with_the_winner_at_100(
    gateway_crds: LocalCluster,
    kube: Cluster,
    operator: OperatorProcess,
    prometheus: LocalPrometheus,
    simulators: SimulatorFleet,
) -> None:
    routes = Routes(kube)
    routes.create()
    rollout = ab_rollout(
        [(A, 40), (B, 30), (C, 30)], promoteWinner=False, trafficRouting={"gatewayAPI": {"httpRoute": "ab-route"}}
    )
    start(kube, prometheus, simulators, rollout, {A: {}, B: {}, C: {"quality": 0.86}})
    kube.wait_status("ab", "every variant serves", started)
    assert routes.weights() == {"ab": 40, "ab-ab-1": 30, "ab-ab-2": 30}
    assert [kube.selected_version(s) for s in ("ab", "ab-ab-1", "ab-ab-2")] == [A, B, C]
    # The route splits, not the pods: the control keeps its 4, each other variant the pods for 30 %.
    assert kube.replicas("ab") == {A: (4, 4), B: (2, 2), C: (2, 2)}

    status = kube.wait_status("ab", "decided: the split holds until promote", decided, timeout=120)
    assert status["abTest"]["winner"] == NAMES[C]
    assert routes.weights() == {"ab": 40, "ab-ab-1": 30, "ab-ab-2": 30}

    kube.control("ab", "promote", "1")
    kube.wait_status("ab", "C promoted", lambda s: concluded(s) and s["stableVersion"] == NAMES[C], 120)
    assert kube.wait(lambda: routes.weights() == {"ab": 100} or None, "the winner alone on the route")
    assert kube.selected_version("ab") == C
    # Left-over variant Services follow the stable version, like a canary Service after a canary.
    kube.wait(lambda: {kube.selected_version(s) for s in ("ab-ab-1", "ab-ab-2")} == {C} or None, "variant Services")
    kube.wait(lambda: kube.replicas("ab").get(B, (0, 0))[0] == 0 or None, "the loser scaled down")
    service = kube.core.read_namespaced_service("ab-ab-2", kube.namespace)
    assert isinstance(service, client.V1Service) and service.metadata.owner_references[0].kind == "Rollout"
