"""Rollback without a capacity drop (spec.rollbackPolicy) against the fake cluster.

A canary at 60 % of 5 replicas runs 3 candidate pods and 2 stable ones. On a rollback the stable
version scales back up first; the candidate keeps serving what the ready stable pods cannot carry
until they reach minReadyPercent of spec.replicas (or maxWaitSeconds pass).
"""

from __future__ import annotations

from typing import Any

import pytest
from fakecluster import ANALYSIS, NEVER, Driver, canary_spec, mv_name, new_driver, rollout_spec

from modelrollout.core import reasons
from modelrollout.core.analysis_contract import AnalysisSummary
from modelrollout.core.drain import required_ready

V1 = mv_name("1.0.0")
V2 = mv_name("1.1.0")
REPLICAS = 5
STABLE_DELAY = 3  # passes a new stable pod takes to load its model


def at_sixty(policy: dict[str, Any] | None = None, routing: dict[str, Any] | None = None, **more: Any) -> Driver:
    """5 replicas, 60 % on the candidate (3 candidate pods, 2 stable), new stable pods slow to load."""
    spec = canary_spec(steps=[{"setWeight": 60}, {"pause": {}}], replicas=REPLICAS, **more)
    raw = spec.model_dump(by_alias=True, exclude_none=True)
    if policy is not None:
        raw["rollbackPolicy"] = policy
    if routing is not None:
        raw["strategy"]["canary"]["trafficRouting"] = routing
    driver = new_driver(type(spec).model_validate(raw))
    driver.run_until(lambda d: d.status.phase == "Paused")
    assert (driver.cluster.ready(V1), driver.cluster.ready(V2)) == ((2, 3) if routing is None else (REPLICAS, 3))
    driver.cluster.ready_after[V1] = STABLE_DELAY
    driver.cluster.served.clear()
    return driver


def active_capacity(driver: Driver) -> list[int]:
    return [served.get(driver.name, 0) for served in driver.cluster.served]


def test_required_ready_rounds_up_and_never_below_one_pod() -> None:
    assert [required_ready(5, p) for p in (0, 1, 20, 21, 60, 100)] == [1, 1, 1, 2, 3, 5]


def test_abort_at_sixty_percent_keeps_the_candidate_serving_until_stable_is_fully_ready() -> None:
    driver = at_sixty()
    driver.send("abort")
    driver.step()
    assert driver.status.phase == "RolledBack"
    drain = driver.status.rollback_drain
    assert drain is not None and (drain.version, drain.required_ready, drain.min_ready_percent) == (V2, 5, 100)
    assert driver.cluster.replicas(V1) == REPLICAS, "stable scales up in the pass that rolls back"
    assert driver.service("active") == "*", "the candidate still serves its share"
    [waiting] = driver.events(reasons.WAITING_FOR_STABLE_CAPACITY)
    assert "3/5" not in waiting.message and "5/5" in waiting.message
    condition = driver.condition(reasons.STABLE_CAPACITY)
    assert (condition.status, condition.reason) == ("False", reasons.WAITING_FOR_STABLE_CAPACITY)
    assert "2/5 ready" in condition.message
    assert driver.status.message == f"{V2} aborted: aborted by user; {condition.message}"
    driver.run_until(lambda d: d.status.rollback_drain is None, max_passes=10)
    assert driver.cluster.ready(V1) == REPLICAS
    driver.run_until(lambda d: d.cluster.replicas(V2) == 0, max_passes=5)
    assert driver.service("active") == V1
    # Capacity behind the stable Service never dropped below the 5 pods it had.
    assert min(active_capacity(driver)) >= REPLICAS
    [moved] = driver.events(reasons.TRAFFIC_RETURNED)
    assert moved.type == "Normal" and "5/5 ready" in moved.message
    condition = driver.condition(reasons.STABLE_CAPACITY)
    assert (condition.status, condition.reason) == ("True", reasons.STABLE_CAPACITY_READY)
    assert driver.status.phase == "RolledBack"
    assert driver.status.message == f"{V2} aborted: aborted by user", "the wait is over: the reason stays"
    assert driver.status.history[-1].outcome == "Aborted"


def test_the_candidate_share_shrinks_as_stable_pods_become_ready() -> None:
    driver = at_sixty()
    driver.send("abort")
    driver.step()
    # The three new stable pods finish loading one pass apart.
    for offset, pod in enumerate(driver.cluster.deployments[V1].pods[2:]):
        pod.ready_at = driver.cluster.pass_index + offset
    shares: list[int] = [60]
    while True:
        driver.step()
        drain = driver.status.rollback_drain
        if drain is None:
            break
        shares.append(drain.candidate_percent)
    assert shares == [60, 50, 43], "3 candidate pods beside 2, 3, 4 ready stable ones; at 5 the switch"
    assert driver.service("active") == V1


def test_min_ready_percent_zero_leaves_at_once() -> None:
    driver = at_sixty({"minReadyPercent": 0})
    driver.send("abort")
    driver.step()
    assert driver.status.rollback_drain is None
    assert driver.service("active") == V1, "switched in the pass that aborted"
    assert not driver.events(reasons.WAITING_FOR_STABLE_CAPACITY)
    assert driver.condition(reasons.STABLE_CAPACITY).status == "True"


def test_min_ready_percent_sixty_leaves_once_three_of_five_are_ready() -> None:
    driver = at_sixty({"minReadyPercent": 60})
    driver.send("abort")
    driver.run_until(lambda d: d.service("active") == V1, max_passes=10)
    assert driver.cluster.ready(V1) >= 3
    assert min(active_capacity(driver)) >= 3


@pytest.mark.parametrize(("critical", "waits"), [(True, False), (False, True)])
def test_critical_min_ready_percent_applies_to_critical_breaches_only(critical: bool, waits: bool) -> None:
    driver = at_sixty({"criticalMinReadyPercent": 0})
    if critical:
        driver.step(AnalysisSummary(critical_failure="error-rate: 0.3 > 0.05"))
    else:
        driver.send("abort")
        driver.step()
    assert driver.status.phase == "RolledBack"
    assert (driver.status.rollback_drain is not None) is waits
    assert (driver.service("active") == "*") is waits


def test_max_wait_seconds_moves_traffic_with_the_capacity_there_is() -> None:
    driver = at_sixty({"maxWaitSeconds": 60})
    driver.cluster.ready_after[V1] = NEVER  # the stable version cannot grow (quota, no nodes)
    driver.send("abort")
    driver.run_until(lambda d: d.status.rollback_drain is None, max_passes=30)
    [moved] = driver.events(reasons.TRAFFIC_RETURNED)
    assert moved.type == "Warning" and "maxWaitSeconds 60" in moved.message and "2/5" in moved.message
    condition = driver.condition(reasons.STABLE_CAPACITY)
    assert (condition.status, condition.reason) == ("False", reasons.STABLE_CAPACITY_SHORT)
    driver.run_until(lambda d: d.service("active") == V1, max_passes=2)


def test_a_candidate_losing_its_pods_ends_the_wait_at_once() -> None:
    driver = at_sixty()
    driver.send("abort")
    driver.step()
    assert driver.status.rollback_drain is not None
    driver.cluster.make_unready(V2)
    driver.step()
    assert driver.status.rollback_drain is None
    assert driver.service("active") == V1


def test_an_emergency_stop_during_the_wait_moves_traffic_at_once() -> None:
    driver = at_sixty()
    driver.send("abort")
    driver.step()
    driver.send("stop")
    driver.step()
    assert driver.status.rollback_drain is None
    assert driver.service("active") == V1


def test_retry_during_the_wait_resumes_the_rollout() -> None:
    driver = at_sixty()
    driver.send("abort")
    driver.step()
    driver.send("retry")
    driver.step()
    assert driver.status.rollback_drain is None
    assert driver.status.candidate_version == V2


@pytest.mark.parametrize("routing", [{"gatewayAPI": {"httpRoute": "chat"}}, {"userHash": {"header": "x-user"}}])
def test_routers_with_a_route_object_leave_at_once_as_stable_keeps_full_size(routing: dict[str, Any]) -> None:
    driver = at_sixty(routing=routing)
    driver.send("abort")
    driver.step()
    assert driver.status.rollback_drain is None
    assert driver.cluster.route is not None and driver.cluster.route.weight == 0


def test_a_route_object_lowers_the_weight_as_ready_stable_pods_cover_it() -> None:
    driver = at_sixty(routing={"gatewayAPI": {"httpRoute": "chat"}})
    # Two stable pods lost (evicted): 3/5 ready when the rollback comes.
    pods = driver.cluster.deployments[V1].pods
    pods[0].ready_at = pods[1].ready_at = driver.cluster.pass_index + 3
    driver.send("abort")
    driver.step()
    assert driver.status.rollback_drain is not None
    assert driver.cluster.route is not None and driver.cluster.route.weight == 40
    driver.run_until(lambda d: d.status.rollback_drain is None, max_passes=10)
    assert driver.cluster.route.weight == 0
    assert driver.cluster.ready(V1) == REPLICAS


def test_an_ab_test_ending_in_keep_returns_traffic_to_the_control_without_a_capacity_drop() -> None:
    ab: dict[str, Any] = {
        "variants": [{"version": V1, "weight": 50}, {"version": V2, "weight": 50}],
        "metrics": [{"name": "quality"}],
        "promoteWinner": True,
    }
    driver = new_driver(rollout_spec("1.1.0", replicas=4, strategy={"abTest": ab}, analysis=ANALYSIS))
    driver.run_until(lambda d: d.status.ab_test is not None and d.status.ab_test.started_at is not None)
    driver.cluster.ready_after[V1] = STABLE_DELAY
    driver.cluster.served.clear()
    assert driver.status.ab_test is not None
    driver.status.ab_test = driver.status.ab_test.model_copy(
        update={"decision": "keep", "winner": V1, "confidence": "high", "reason": "no better"}
    )
    driver.step()
    assert driver.status.rollback_drain is not None and driver.service("active") == "*"
    driver.run_until(lambda d: d.status.rollback_drain is None, max_passes=10)
    driver.settle()
    assert driver.service("active") == V1 and driver.cluster.replicas(V2) == 0
    assert min(active_capacity(driver)) >= 4
    assert driver.status.phase == "Healthy" and "keep" in (driver.status.message or "")


@pytest.mark.parametrize(
    ("policy", "valid"),
    [
        ({}, True),
        ({"minReadyPercent": 0, "criticalMinReadyPercent": 0, "maxWaitSeconds": 0}, True),
        ({"minReadyPercent": 101}, False),
        ({"criticalMinReadyPercent": -1}, False),
        ({"maxWaitSeconds": -5}, False),
        ({"minReadyPrecent": 50}, False),  # a typo is refused, not ignored
    ],
)
def test_rollback_policy_bounds(policy: dict[str, Any], valid: bool) -> None:
    raw = canary_spec().model_dump(by_alias=True, exclude_none=True)
    raw["rollbackPolicy"] = policy
    if valid:
        spec = type(canary_spec()).model_validate(raw)
        assert spec.rollback_policy.min_ready_percent == policy.get("minReadyPercent", 100)
    else:
        with pytest.raises(ValueError):
            type(canary_spec()).model_validate(raw)
