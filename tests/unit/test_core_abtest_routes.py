"""A/B tests on the gatewayAPI and userHash routers against the fake cluster: exact shares on the route
object, a Service per variant, removals at once, and the end of the test on one version.

The fake cluster checks after every pass that the route never gives a share to a Service that selects
no ready pod, and that the shares always sum to 100.
"""

from __future__ import annotations

from typing import Any

import pytest
from fakecluster import ANALYSIS, Driver, mv_name, new_driver, rollout_spec

from modelrollout.api.common import format_time
from modelrollout.api.rollout import ABRemoval, RolloutSpec

A, B, C = mv_name("1.0.0"), mv_name("1.1.0"), mv_name("1.2.0")
ROUTERS: list[dict[str, Any]] = [{"userHash": {"header": "x-user"}}, {"gatewayAPI": {"httpRoute": "chat"}}]
THREE = (("1.0.0", 40), ("1.1.0", 30), ("1.2.0", 30))


def ab_spec(routing: dict[str, Any], *variants: tuple[str, int], replicas: int = 10, **ab: Any) -> RolloutSpec:
    ab_test = {
        "variants": [{"version": mv_name(semver), "weight": weight} for semver, weight in variants],
        "metrics": [{"name": "quality"}],
        "trafficRouting": routing,
        **ab,
    }
    return rollout_spec("1.1.0", replicas=replicas, strategy={"abTest": ab_test}, analysis=ANALYSIS)


def started(routing: dict[str, Any], variants: tuple[tuple[str, int], ...] = THREE, **more: Any) -> Driver:
    driver = new_driver(ab_spec(routing, *variants, **more.pop("ab", {})), **more)
    driver.run_until(lambda d: d.status.ab_test is not None and d.status.ab_test.started_at is not None)
    return driver


def shares(driver: Driver) -> dict[str, int]:
    """Percentage per ModelVersion on the route object."""
    split = driver.cluster.variant_route
    assert split is not None
    return {backend.version: backend.weight for backend in split.backends}


def services(driver: Driver) -> dict[str, str | None]:
    return {name: driver.cluster.selects(name) for name in ("chat", "chat-ab-0", "chat-ab-1", "chat-ab-2")}


def decide(driver: Driver, **fields: Any) -> None:
    assert driver.status.ab_test is not None
    driver.status.ab_test = driver.status.ab_test.model_copy(update=fields)


@pytest.mark.parametrize("routing", ROUTERS, ids=lambda r: next(iter(r)))
def test_three_variants_get_exact_shares_each_through_its_own_service(routing: dict[str, Any]) -> None:
    driver = new_driver(ab_spec(routing, *THREE), ready_after={"1.1.0": 2, "1.2.0": 4})
    seen: list[dict[str, int]] = []
    while driver.status.ab_test is None or driver.status.ab_test.started_at is None:
        driver.step()
        seen.append(shares(driver))
        assert len(seen) < 40
    assert seen[0] == {B: 0, C: 0, A: 100}, "the control serves alone until every variant is ready"
    assert shares(driver) == {B: 30, C: 30, A: 40}
    split = driver.cluster.variant_route
    assert split is not None
    assert [(b.service, b.share) for b in split.backends] == [("chat-ab-1", 30), ("chat-ab-2", 30), ("chat", 40)]
    assert services(driver) == {"chat": A, "chat-ab-0": None, "chat-ab-1": B, "chat-ab-2": C}
    assert [driver.cluster.replicas(v) for v in (A, B, C)] == [10, 3, 3], "the route splits; the control stays full"
    assert driver.status.canary_weight == 60
    assert len(driver.events("ABTestStarted")) == 1
    driver.run(5)
    assert shares(driver) == {B: 30, C: 30, A: 40} and driver.status.phase == "Progressing"


@pytest.mark.parametrize("routing", ROUTERS, ids=lambda r: next(iter(r)))
def test_a_breached_variant_gets_no_share_in_the_next_pass(routing: dict[str, Any]) -> None:
    driver = started(routing)
    removal = ABRemoval(version=C, reason="error-rate is above its critical max 0.05", at=format_time(driver.now))
    decide(driver, removed=[removal])
    driver.step()
    assert shares(driver)[C] == 0, "at once"
    assert driver.cluster.stage(C) == "rejected"
    driver.run_until(lambda d: d.cluster.replicas(C) == 0, max_passes=20)
    assert driver.cluster.selects("chat-ab-2") == A, "its Service left it before its pods went"
    driver.run_until(lambda d: shares(d) == {B: 43, C: 0, A: 57}, max_passes=20)
    assert driver.cluster.replicas(B) == 5


@pytest.mark.parametrize("routing", ROUTERS, ids=lambda r: next(iter(r)))
def test_the_winner_ends_with_all_traffic_and_no_variant_stays_on_the_route(routing: dict[str, Any]) -> None:
    driver = started(routing, ab={"promoteWinner": True})
    decide(driver, decision="upgrade", winner=C, confidence="high", reason="c is better")
    driver.run_until(lambda d: d.status.stable_version == C)
    driver.settle()
    assert shares(driver) == {C: 100}
    split = driver.cluster.variant_route
    assert split is not None and [b.service for b in split.backends] == ["chat"]
    assert services(driver) == {"chat": C, "chat-ab-0": None, "chat-ab-1": C, "chat-ab-2": C}
    assert driver.cluster.replicas(C) == 10 and driver.cluster.replicas(B) == 0
    driver.advance(31)
    driver.settle()
    assert driver.cluster.replicas(A) == 0 and driver.status.phase == "Healthy"


@pytest.mark.parametrize("routing", ROUTERS, ids=lambda r: next(iter(r)))
@pytest.mark.parametrize("decision", ["keep", "inconclusive"])
def test_no_winner_returns_everything_to_the_control(routing: dict[str, Any], decision: str) -> None:
    driver = started(routing, ab={"promoteWinner": True})
    decide(driver, decision=decision, winner=A if decision == "keep" else None, confidence="high", reason="r")
    driver.settle()
    assert driver.status.stable_version == A and shares(driver) == {A: 100}
    assert services(driver) == {"chat": A, "chat-ab-0": None, "chat-ab-1": A, "chat-ab-2": A}
    assert driver.cluster.replicas(B) == 0 and driver.cluster.replicas(C) == 0


@pytest.mark.parametrize("routing", ROUTERS, ids=lambda r: next(iter(r)))
def test_the_winner_gets_traffic_only_once_it_runs_at_full_size(routing: dict[str, Any]) -> None:
    driver = started(routing, ab={"promoteWinner": True}, ready_after={"1.2.0": 3})
    decide(driver, decision="upgrade", winner=C, confidence="high", reason="c is better")
    driver.step()
    assert driver.cluster.replicas(C) == 10 and driver.cluster.ready(C) < 10
    assert shares(driver) == {B: 30, C: 30, A: 40}, "the split holds while the winner scales up"
    driver.run_until(lambda d: d.status.stable_version == C, max_passes=20)
    assert shares(driver) == {C: 100}


def test_a_route_object_that_cannot_be_written_holds_the_test_before_it_starts() -> None:
    driver = new_driver(ab_spec(ROUTERS[1], *THREE))
    driver.cluster.route_problem = "HTTPRoute chat not found"
    driver.run(5)
    assert driver.status.phase == "Paused" and "HTTPRoute chat not found" in (driver.status.message or "")
    assert driver.status.ab_test is not None and driver.status.ab_test.started_at is None
    driver.cluster.route_problem = None
    driver.run_until(lambda d: d.status.ab_test is not None and d.status.ab_test.started_at is not None)
    assert shares(driver) == {B: 30, C: 30, A: 40}
