"""A/B strategy in the core: the split over every variant, and what each decision does to traffic and stages.

The decision itself comes from analysis (tests/unit/test_analysis_abtest*.py); here it is written into
status as the handler's A/B look would, and the fake cluster checks the traffic invariants every pass.
"""

from __future__ import annotations

from typing import Any

from fakecluster import ANALYSIS, Driver, mv_name, new_driver, rollout_spec

from modelrollout.api.common import format_time
from modelrollout.api.rollout import ABRemoval, RolloutSpec
from modelrollout.core import reasons

A, B, C = mv_name("1.0.0"), mv_name("1.1.0"), mv_name("1.2.0")


def ab_spec(*variants: tuple[str, int], target: str = "1.1.0", replicas: int = 4, **ab: Any) -> RolloutSpec:
    ab_test = {
        "variants": [{"version": mv_name(semver), "weight": weight} for semver, weight in variants],
        "metrics": [{"name": "quality"}, {"name": "error-rate", "guardrail": True}],
        **ab,
    }
    return rollout_spec(target, replicas=replicas, strategy={"abTest": ab_test}, analysis=ANALYSIS)


def started(variants: tuple[tuple[str, int], ...] = (("1.0.0", 50), ("1.1.0", 50)), **ab: Any) -> Driver:
    driver = new_driver(ab_spec(*variants, **ab))
    driver.run_until(lambda d: d.status.ab_test is not None and d.status.ab_test.started_at is not None)
    return driver


def decide(driver: Driver, **fields: Any) -> None:
    """What the handler's A/B look writes before a pass."""
    assert driver.status.ab_test is not None
    driver.status.ab_test = driver.status.ab_test.model_copy(update=fields)


def test_every_variant_serves_its_share_before_the_clock_starts() -> None:
    driver = new_driver(ab_spec(("1.0.0", 50), ("1.1.0", 50)), ready_after={"1.1.0": 3})
    driver.step()
    assert driver.service("active") == A, "the control serves alone until the challenger has ready pods"
    assert driver.status.ab_test is not None and driver.status.ab_test.started_at is None
    driver.run_until(lambda d: d.status.ab_test is not None and d.status.ab_test.started_at is not None)
    assert driver.service("active") == "*"
    assert (driver.cluster.replicas(A), driver.cluster.replicas(B)) == (2, 2)
    assert driver.status.phase == "Progressing"
    assert driver.condition(reasons.PROGRESSING).reason in (reasons.AB_TEST_RUNNING, reasons.ROLLOUT_IN_PROGRESS)
    assert len(driver.events("ABTestStarted")) == 1
    driver.run(3)
    assert driver.status.phase == "Progressing" and driver.status.candidate_version == B


def test_three_variants_split_by_weight() -> None:
    driver = started((("1.0.0", 50), ("1.1.0", 25), ("1.2.0", 25)))
    assert [driver.cluster.replicas(v) for v in (A, B, C)] == [2, 1, 1]
    assert driver.service("active") == "*"


def test_upgrade_with_promote_winner_promotes_through_the_normal_path() -> None:
    driver = started(promoteWinner=True)
    decide(driver, decision="upgrade", winner=B, confidence="high", reason="b is better")
    driver.run_until(lambda d: d.status.stable_version == B)
    assert driver.status.history[-1].outcome == "Promoted" and "won the A/B test" in driver.status.history[-1].reason
    assert driver.cluster.stage(B) == "production" and driver.cluster.stage(A) == "deprecated"
    driver.settle()
    assert driver.status.phase == "Healthy" and driver.service("active") == B
    assert driver.status.candidate_version is None


def test_upgrade_without_promote_winner_waits_for_promote() -> None:
    driver = started()
    decide(driver, decision="upgrade", winner=B, confidence="medium", reason="b is better")
    driver.run(3)
    assert driver.status.phase == "Paused" and "kubectl modelrollout promote" in (driver.status.message or "")
    assert driver.condition(reasons.PAUSED).reason == reasons.AB_TEST_DECIDED
    assert driver.service("active") == "*", "the split holds until someone decides"
    assert len(driver.events("Paused")) == 1 and len(driver.events("ABTestDecided")) == 1
    driver.send("promote")
    driver.run_until(lambda d: d.status.stable_version == B)
    driver.settle()
    assert driver.service("active") == B


def test_keep_returns_all_traffic_to_the_control_and_starts_no_new_test() -> None:
    driver = started(promoteWinner=True)
    decide(driver, decision="keep", winner=A, confidence="high", reason="guardrail error-rate is significantly worse")
    driver.settle()
    assert driver.status.stable_version == A and driver.service("active") == A
    assert driver.cluster.replicas(B) == 0
    assert driver.cluster.stage(B) == "rejected"
    assert driver.status.history[-1].outcome == "RolledBack"
    assert driver.status.phase == "Healthy" and "keep" in (driver.status.message or "")
    assert len(driver.events("ABTestConcluded")) == 1 and not driver.events("Promoted")


def test_inconclusive_promotes_nothing() -> None:
    driver = started(promoteWinner=True)
    decide(driver, decision="inconclusive", confidence="low", reason="no significant difference at maxDuration")
    driver.settle()
    assert driver.status.stable_version == A and driver.service("active") == A
    assert driver.cluster.stage(B) == "staging" and not driver.events("Promoted")
    assert "no significant difference" in (driver.status.message or "")


def test_a_new_generation_starts_a_new_test() -> None:
    driver = started(promoteWinner=True)
    decide(driver, decision="inconclusive", confidence="low", reason="no significant difference at maxDuration")
    driver.settle()
    driver.edit(strategy={"abTest": {**driver.spec.strategy.ab_test.model_dump(by_alias=True), "maxDuration": "48h"}})  # type: ignore[union-attr]
    driver.run_until(lambda d: d.status.ab_test is not None and d.status.ab_test.started_at is not None)
    assert driver.status.candidate_version == B and driver.status.ab_test is not None
    assert driver.status.ab_test.decision is None


def test_another_challenger_winning_is_promoted_and_the_target_is_not_retried() -> None:
    driver = started((("1.0.0", 40), ("1.1.0", 30), ("1.2.0", 30)), promoteWinner=True)
    decide(driver, decision="upgrade", winner=C, confidence="high", reason="c is better")
    driver.run_until(lambda d: d.status.stable_version == C)
    driver.settle()
    assert driver.service("active") == C
    assert driver.cluster.stage(C) == "production" and driver.cluster.stage(B) == "staging"
    assert driver.cluster.replicas(B) == 0
    driver.advance(31)  # the old stable's scale-down delay
    driver.settle()
    assert driver.cluster.replicas(A) == 0
    assert driver.status.candidate_version is None, "the target that lost is not rolled out again"


def test_a_variant_breaching_a_critical_threshold_leaves_traffic_at_once() -> None:
    driver = started((("1.0.0", 40), ("1.1.0", 30), ("1.2.0", 30)))
    removal = ABRemoval(version=C, reason="error-rate is above its critical max 0.05", at=format_time(driver.now))
    decide(driver, removed=[removal])
    driver.step()
    assert driver.cluster.replicas(C) == 0
    assert [driver.cluster.replicas(v) for v in (A, B)] == [2, 2]
    assert driver.cluster.stage(C) == "rejected"
    assert len(driver.events("VariantRemoved")) == 1
    driver.run(3)
    assert len(driver.events("VariantRemoved")) == 1


def test_every_challenger_removed_means_keep() -> None:
    driver = started()
    decide(driver, removed=[ABRemoval(version=B, reason="error-rate above 0.05", at=format_time(driver.now))])
    driver.settle()
    assert driver.status.stable_version == A and driver.service("active") == A
    assert "every challenger breached" in (driver.status.message or "")
