"""The gatewayAPI router end to end: exact weights on a user's HTTPRoute on the real API server,
with the Gateway API CRDs from the published module sigs.k8s.io/gateway-api installed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubernetes import client
from rollouts import Cluster, canary_rollout, model_version
from test_operator_analysis import ERROR_RATE, HEALTHY, analysis, wait_scraped

from modelrollout.devenv import LocalCluster, LocalPrometheus
from modelrollout.devenv.operator import OperatorProcess
from modelrollout.sim import SimulatorFleet

GROUP, VERSION, PLURAL = "gateway.networking.k8s.io", "v1", "httproutes"
GATEWAY_API = {"trafficRouting": {"gatewayAPI": {"httpRoute": "sa-route"}}}
HEALTH_RULE = {
    "matches": [{"path": {"type": "PathPrefix", "value": "/healthz"}}],
    "backendRefs": [{"name": "status-page", "port": 8080}],
}
CHAT_RULE = {
    "matches": [{"path": {"type": "PathPrefix", "value": "/v1"}}],
    "filters": [
        {"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [{"name": "x-model", "value": "sa"}]}}
    ],
    "backendRefs": [{"name": "sa", "port": 80}],
}


def gateway_rollout(steps: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    rollout = canary_rollout("sa", "sa-2-3-1", steps, replicas=5, **spec)
    rollout["spec"]["strategy"]["canary"].update(GATEWAY_API)
    return rollout


def http_route(rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "HTTPRoute",
        "metadata": {"name": "sa-route"},
        "spec": {"parentRefs": [{"name": "public"}], "rules": rules},
    }


class Routes:
    def __init__(self, kube: Cluster) -> None:
        self.kube = kube

    def create(self, rules: list[dict[str, Any]]) -> None:
        self.kube.custom.create_namespaced_custom_object(GROUP, VERSION, self.kube.namespace, PLURAL, http_route(rules))

    def get(self) -> dict[str, Any]:
        obj: dict[str, Any] = self.kube.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.kube.namespace, PLURAL, "sa-route"
        )  # type: ignore[assignment]
        return obj

    def weights(self, rule: int = 1) -> dict[str, int]:
        return {ref["name"]: ref.get("weight", 1) for ref in self.get()["spec"]["rules"][rule]["backendRefs"]}

    def set_weights(self, stable: int, canary: int) -> None:
        route = self.get()
        refs = route["spec"]["rules"][1]["backendRefs"]
        for ref in refs:
            ref["weight"] = stable if ref["name"] == "sa" else canary
        self.kube.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.kube.namespace, PLURAL, "sa-route", {"spec": {"rules": route["spec"]["rules"]}}
        )


def paused_at(step: int) -> Any:
    return lambda s: s.get("phase") == "Paused" and s.get("currentStep") == step


def test_canary_weights_are_exact_on_the_http_route_and_edits_are_restored(
    gateway_crds: LocalCluster, kube: Cluster, operator: OperatorProcess
) -> None:
    routes = Routes(kube)
    routes.create([HEALTH_RULE, CHAT_RULE])
    original = routes.get()  # as the API server stored it, defaults filled in
    kube.create(model_version("sa-2-3-1", "2.3.1"))
    kube.create(model_version("sa-2-4-0", "2.4.0"))
    steps: list[dict[str, Any]] = []
    for weight in (1, 5, 50, 100):
        steps += [{"setWeight": weight}, {"pause": {}}]
    kube.create(gateway_rollout(steps))
    kube.wait_status("sa", "first version healthy", lambda s: s.get("phase") == "Healthy")
    kube.wait(lambda: routes.weights() == {"sa": 100, "sa-canary": 0} or None, "all weight on stable")

    kube.set_target("sa", "sa-2-4-0")
    for index, weight in enumerate((1, 5, 50, 100)):
        if index:
            kube.control("sa", "promote", str(index))
        status = kube.wait_status("sa", f"paused at {weight} %", paused_at(2 * index + 1))
        assert status["canaryWeight"] == weight
        assert routes.weights() == {"sa": 100 - weight, "sa-canary": weight}
        assert kube.selected_version("sa") == "2.3.1", "the stable Service keeps selecting only stable"
        assert kube.selected_version("sa-canary") == "2.4.0"
        stable_pods, candidate_pods = kube.replicas("sa")["2.3.1"], kube.replicas("sa")["2.4.0"]
        assert stable_pods == (5, 5)
        assert candidate_pods[1] >= max(1, -(-5 * weight // 100)), "the candidate has the pods for its share"
        if weight == 5:
            # Someone edits the weights: the operator puts its own back.
            routes.set_weights(50, 50)
            kube.wait(lambda: routes.weights() == {"sa": 95, "sa-canary": 5} or None, "weights restored")

    route = routes.get()
    assert route["spec"]["rules"][0] == original["spec"]["rules"][0], "other rules are left alone"
    for key in ("matches", "filters"):
        assert route["spec"]["rules"][1][key] == original["spec"]["rules"][1][key]
    assert route["spec"]["parentRefs"] == original["spec"]["parentRefs"]

    kube.control("sa", "promote", "9")
    kube.wait_status("sa", "promoted", lambda s: s.get("phase") == "Healthy" and s.get("stableVersion") == "sa-2-4-0")
    kube.wait(lambda: routes.weights() == {"sa": 100, "sa-canary": 0} or None, "all weight on the new stable")
    assert kube.selected_version("sa") == "2.4.0"


def test_a_failed_analysis_puts_the_weight_back_to_zero(
    gateway_crds: LocalCluster,
    kube: Cluster,
    operator: OperatorProcess,
    prometheus: LocalPrometheus,
    simulators: SimulatorFleet,
) -> None:
    routes = Routes(kube)
    routes.create([HEALTH_RULE, CHAT_RULE])
    kube.create(model_version("sa-2-3-1", "2.3.1"))
    kube.create(model_version("sa-2-4-0", "2.4.0"))
    stable = simulators.start("sa", "2.3.1", namespace=kube.namespace, **HEALTHY)
    candidate = simulators.start("sa", "2.4.0", namespace=kube.namespace, **{**HEALTHY, "error_rate": 0.3})
    kube.create(gateway_rollout([{"setWeight": 5}, {"pause": {}}], analysis=analysis(prometheus, ERROR_RATE)))
    kube.wait_status("sa", "first version healthy", lambda s: s.get("phase") == "Healthy")
    wait_scraped(prometheus, stable, candidate)

    kube.set_target("sa", "sa-2-4-0")
    kube.wait(lambda: routes.weights() == {"sa": 95, "sa-canary": 5} or None, "5 % on the candidate")
    status = kube.wait_status("sa", "rolled back", lambda s: s.get("phase") == "RolledBack", timeout=90)
    assert "error-rate" in status["history"][-1]["reason"]
    kube.wait(lambda: routes.weights() == {"sa": 100, "sa-canary": 0} or None, "weight back to 0")
    assert kube.model_version_status("sa-2-4-0")["stage"] == "rejected"


def test_a_missing_or_foreign_http_route_is_a_clear_condition(
    gateway_crds: LocalCluster, kube: Cluster, operator: OperatorProcess
) -> None:
    kube.create(model_version("sa-2-3-1", "2.3.1"))
    kube.create(model_version("sa-2-4-0", "2.4.0"))
    kube.create(gateway_rollout([{"setWeight": 5}, {"pause": {}}]))
    kube.wait_status("sa", "stable serves", lambda s: s.get("phase") == "Healthy")
    missing = kube.wait(
        lambda: (c := kube.condition("sa", "TrafficRouting")) and c["status"] == "False" and c, "missing"
    )
    assert missing["reason"] == "RouteNotUsable"
    assert "HTTPRoute sa-route not found" in missing["message"]

    routes = Routes(kube)
    routes.create([HEALTH_RULE])  # a route, but not wired to this Rollout's Service
    original = routes.get()
    kube.set_target("sa", "sa-2-4-0")
    status = kube.wait_status("sa", "held", lambda s: s.get("phase") == "Paused" and "no rule" in s.get("message", ""))
    assert "backendRef to Service sa" in status["message"]
    assert routes.get()["metadata"]["resourceVersion"] == original["metadata"]["resourceVersion"], "not touched"
    assert "sa-2.4.0" not in kube.deployment_names() or kube.replicas("sa").get("2.4.0", (0, 0))[0] == 0

    route = routes.get()
    route["spec"]["rules"].append(CHAT_RULE)
    kube.custom.replace_namespaced_custom_object(GROUP, VERSION, kube.namespace, PLURAL, "sa-route", route)
    kube.wait_status("sa", "moves on", paused_at(1))
    assert routes.weights() == {"sa": 95, "sa-canary": 5}
    condition = kube.condition("sa", "TrafficRouting")
    assert condition is not None and condition["status"] == "True"


def test_http_route_crd_comes_from_the_published_module(
    gateway_crds: LocalCluster, api_client: client.ApiClient
) -> None:
    crd = client.ApiextensionsV1Api(api_client).read_custom_resource_definition("httproutes.gateway.networking.k8s.io")
    assert crd.metadata.annotations["gateway.networking.k8s.io/bundle-version"].startswith("v1.")
    assert crd.metadata.annotations["gateway.networking.k8s.io/channel"] == "standard"


def test_a_bad_candidate_is_rejected_during_the_shadow_with_no_user_traffic(
    gateway_crds: LocalCluster,
    kube: Cluster,
    operator: OperatorProcess,
    prometheus: LocalPrometheus,
    simulators: SimulatorFleet,
) -> None:
    routes = Routes(kube)
    routes.create([HEALTH_RULE, CHAT_RULE])
    kube.create(model_version("sa-2-3-1", "2.3.1"))
    kube.create(model_version("sa-2-4-0", "2.4.0"))
    stable = simulators.start("sa", "2.3.1", namespace=kube.namespace, **HEALTHY)
    # The simulator stands for the candidate's pods answering the mirrored requests.
    candidate = simulators.start("sa", "2.4.0", namespace=kube.namespace, **{**HEALTHY, "error_rate": 0.3})
    steps = [{"shadow": {"percent": 5, "duration": "5m"}}, {"setWeight": 50}]
    kube.create(gateway_rollout(steps, analysis=analysis(prometheus, ERROR_RATE)))
    kube.wait_status("sa", "first version healthy", lambda s: s.get("phase") == "Healthy")
    wait_scraped(prometheus, stable, candidate)

    kube.set_target("sa", "sa-2-4-0")
    seen: list[tuple[int, int, int]] = []  # (route weight of the candidate, mirror %, status canaryWeight)

    def observe() -> dict[str, Any] | None:
        rule = routes.get()["spec"]["rules"][1]
        mirrors = [f["requestMirror"] for f in rule.get("filters", []) if f["type"] == "RequestMirror"]
        weight = routes.weights().get("sa-canary", 0)
        status = kube.status("sa")
        seen.append((weight, mirrors[0]["percent"] if mirrors else 0, status.get("canaryWeight", 0)))
        return status if status.get("phase") == "RolledBack" else None

    status = kube.wait(observe, "rejected during the shadow", timeout=90)
    assert any(mirror == 5 for _, mirror, _ in seen), "requests were mirrored to the candidate"
    assert all(weight == 0 and in_status == 0 for weight, _, in_status in seen), "no user got the candidate"
    assert not any(e.startswith("StepCompleted") for e in kube.events("sa")), "rejected in the shadow step"
    assert "error-rate" in status["history"][-1]["reason"]
    kube.wait(
        lambda: (
            not any(f["type"] == "RequestMirror" for f in routes.get()["spec"]["rules"][1].get("filters", [])) or None
        ),
        "mirror removed",
    )
    assert routes.get()["spec"]["rules"][1]["filters"] == CHAT_RULE["filters"]
    assert routes.weights() == {"sa": 100, "sa-canary": 0}
    assert kube.model_version_status("sa-2-4-0")["stage"] == "rejected"


def test_the_example_http_route_is_accepted(gateway_crds: LocalCluster, namespace: str) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "gateway-api" / "httproute.yaml"
    gateway_crds.kubectl("apply", "-n", namespace, "-f", str(example))
    stored = gateway_crds.kubectl("get", "httproute", "support-agent", "-n", namespace, "-o", "name").stdout
    assert stored.strip() == "httproute.gateway.networking.k8s.io/support-agent"
