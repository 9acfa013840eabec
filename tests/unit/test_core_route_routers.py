"""Canary with a router that writes a route object (userHash route table, gatewayAPI HTTPRoute
weights) against the fake cluster.

The fake cluster checks after every pass that the route never gives the canary Service a weight
while that Service selects no ready pod.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from fakecluster import Driver, canary_spec, mv_name, new_driver, steps_pass

from modelrollout.core.analysis_contract import AnalysisSummary
from modelrollout.routing.weighted import candidate_replicas

V1 = mv_name("1.0.0")
V2 = mv_name("1.1.0")
USER_HASH: dict[str, Any] = {"userHash": {"header": "x-user"}}
GATEWAY_API: dict[str, Any] = {"gatewayAPI": {"httpRoute": "chat"}}


def user_hash_spec(weights: list[int], replicas: int = 5, routing: dict[str, Any] = USER_HASH, **more: Any) -> Any:
    spec = canary_spec(steps=[{"setWeight": w} for w in weights], replicas=replicas, **more)
    raw = spec.model_dump(by_alias=True, exclude_none=True)
    raw["strategy"]["canary"]["trafficRouting"] = routing
    return type(spec).model_validate(raw)


def step_done(driver: Driver, index: int) -> bool:
    return (driver.status.current_step or 0) > index or driver.status.candidate_version is None


@pytest.mark.parametrize("routing", [USER_HASH, GATEWAY_API], ids=lambda r: next(iter(r)))
@pytest.mark.parametrize("delay", [0, 3])
@pytest.mark.parametrize("weights", [[1, 5, 50], [10, 20, 100], [50, 10, 0, 30]], ids=lambda w: "-".join(map(str, w)))
def test_each_step_puts_its_exact_weight_on_the_route(delay: int, weights: list[int], routing: dict[str, Any]) -> None:
    driver = new_driver(user_hash_spec(weights, routing=routing), ready_after={"1.1.0": delay})
    assert driver.cluster.route is not None and driver.cluster.route.weight == 0, "published at steady state"
    for index, weight in enumerate(weights):
        driver.run_until(lambda d, i=index: step_done(d, i), max_passes=40)
        route = driver.cluster.route
        assert route is not None
        assert (route.stable, route.candidate, route.weight) == (V1, V2, weight)
        assert driver.status.canary_weight == weight
        assert driver.cluster.replicas(V2) == candidate_replicas(5, weight)
        assert driver.cluster.replicas(V1) == 5, "stable keeps full size: the route, not pods, splits"
        assert driver.service("active") == V1, "the stable Service never selects the candidate"
        if weight:
            assert driver.service("canary") == V2
    driver.run_until(lambda d: d.status.phase == "Healthy", max_passes=40)
    route = driver.cluster.route
    assert route is not None
    assert (route.stable, route.candidate, route.weight) == (V2, None, 0)
    assert driver.status.stable_version == V2
    assert driver.service("active") == V2


def test_a_weight_reaches_the_route_only_once_the_candidate_serves_it() -> None:
    driver = new_driver(user_hash_spec([40]), ready_after={"1.1.0": 4})
    driver.run_until(lambda d: step_done(d, 0), max_passes=40)
    weights = driver.cluster.route_weights
    first = weights.index(40)
    # every pass before the weight landed: no candidate pod was ready, or the canary Service did not select it
    assert all(w == 0 for w in weights[:first])
    assert first >= 4


def test_a_critical_failure_sends_everyone_back_to_stable() -> None:
    driver = new_driver(user_hash_spec([20, 50]))
    driver.run_until(lambda d: step_done(d, 0), max_passes=40)
    driver.run(1, analysis=AnalysisSummary(critical_failure="error-rate 0.2 > 0.05"))
    route = driver.cluster.route
    assert route is not None
    assert (route.stable, route.candidate, route.weight) == (V1, None, 0)
    assert driver.status.phase == "RolledBack"
    assert driver.service("canary") == V1
    driver.settle()
    assert driver.cluster.replicas(V2) == 0


def test_a_route_object_that_cannot_be_used_holds_the_rollout_and_says_why() -> None:
    driver = new_driver(user_hash_spec([20]), analysis=steps_pass)
    problem = "ConfigMap chat-routes exists and is not owned by this Rollout: delete or rename it"
    driver.cluster.route_problem = problem
    driver.run(4)
    assert driver.status.phase == "Paused"
    assert problem in (driver.status.message or "")
    condition = driver.condition("TrafficRouting")
    assert condition.status == "False" and condition.reason == "RouteNotUsable" and condition.message == problem
    assert driver.cluster.replicas(V2) == 0
    driver.cluster.route_problem = None
    driver.run_until(lambda d: d.status.phase == "Healthy", max_passes=40)
    assert driver.condition("TrafficRouting").status == "True"
    assert driver.status.stable_version == V2


def test_an_external_edit_of_the_route_is_restored() -> None:
    spec = user_hash_spec([30])
    raw = spec.model_dump(by_alias=True, exclude_none=True)
    raw["strategy"]["canary"]["steps"].append({"pause": {}})
    driver = new_driver(type(spec).model_validate(raw))
    driver.run_until(lambda d: d.status.phase == "Paused", max_passes=40)
    route = driver.cluster.route
    assert route is not None and route.weight == 30
    for edited in (90, 0):
        driver.cluster.route = replace(route, weight=edited)
        driver.run(1)
        assert driver.cluster.route == route


SHADOW_STEPS: list[dict[str, Any]] = [{"shadow": {"percent": 5, "duration": "30s"}}, {"setWeight": 20}]


def shadow_spec(steps: list[dict[str, Any]] = SHADOW_STEPS) -> Any:
    spec = canary_spec(steps=steps, replicas=5)
    raw = spec.model_dump(by_alias=True, exclude_none=True)
    raw["strategy"]["canary"]["trafficRouting"] = GATEWAY_API
    return type(spec).model_validate(raw)


@pytest.mark.parametrize("delay", [0, 3])
def test_a_shadow_step_mirrors_for_its_duration_without_user_traffic(delay: int) -> None:
    driver = new_driver(shadow_spec(), ready_after={"1.1.0": delay})
    driver.run_until(lambda d: d.cluster.route is not None and d.cluster.route.mirror == 5, max_passes=20)
    assert driver.cluster.route is not None and driver.cluster.route.weight == 0
    mirrored_at = driver.now
    driver.run(1)
    assert driver.status.shadow_percent == 5 and driver.status.canary_weight == 0
    assert "mirroring 5% of requests" in (driver.status.message or "")
    assert driver.cluster.replicas(V2) == 1 and driver.service("canary") == V2
    driver.run(1)
    scope = driver.scopes[-1]
    assert scope is not None and scope.background_metrics, "background analysis judges the mirrored requests"
    driver.run_until(lambda d: step_done(d, 0), max_passes=20)
    assert (driver.now - mirrored_at).total_seconds() >= 30, "the duration counts from the mirror in place"
    driver.run_until(lambda d: step_done(d, 1), max_passes=20)
    route = driver.cluster.route
    assert route is not None and (route.weight, route.mirror) == (20, 0)
    assert driver.status.shadow_percent is None


def test_a_bad_candidate_is_rejected_during_the_shadow_with_no_user_traffic() -> None:
    driver = new_driver(shadow_spec())
    driver.run_until(lambda d: d.status.shadow_percent == 5, max_passes=20)
    driver.run(1, analysis=AnalysisSummary(critical_failure="error-rate=0.3 above max 0.05"))
    assert driver.status.phase == "RolledBack"
    route = driver.cluster.route
    assert route is not None and (route.weight, route.mirror) == (0, 0)
    assert all(weight == 0 for weight in driver.cluster.route_weights), "no user ever got the candidate"
    assert driver.status.shadow_percent is None
