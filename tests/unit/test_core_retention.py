"""Retention: the newest deprecated versions stay ready for undo; older ones are archived after an age."""

from __future__ import annotations

from typing import Any

from fakecluster import Driver, canary_spec, mv_name, new_driver

from modelrollout.api.rollout import RolloutSpec
from modelrollout.core.actions import DeleteDeployment, SetModelVersionStage
from modelrollout.core.retention import archived_targets

STEPS: list[dict[str, Any]] = [{"setWeight": 50}]


def ship(driver: Driver, *semvers: str) -> None:
    """Roll out each version in turn until it is stable and the old one has scaled down."""
    for semver in semvers:
        driver.set_target(semver)
        driver.run_until(lambda d, s=semver: d.status.stable_version == mv_name(s) and not d.status.pending_scale_downs)
        driver.settle()


def stage(driver: Driver, semver: str) -> str | None:
    return driver.cluster.stage(mv_name(semver))


def test_beyond_keep_deprecated_and_older_than_archive_after_is_archived() -> None:
    retention = {"keepDeprecated": 1, "archiveAfter": "10m"}
    driver = new_driver(canary_spec(steps=STEPS, scaleDownDelaySeconds=0, retention=retention), stable="1.0.0")
    driver.settle()
    ship(driver, "1.1.0", "1.2.0")
    assert [stage(driver, v) for v in ("1.0.0", "1.1.0", "1.2.0")] == ["deprecated", "deprecated", "production"]
    # 1.0.0 is beyond the newest one but not deprecated for 10 minutes yet: it stays, at 0 replicas
    assert driver.cluster.replicas(mv_name("1.0.0")) == 0
    assert mv_name("1.0.0") in driver.cluster.deployments
    driver.advance(600)
    decision = driver.step()
    reason = "retention of chat: beyond the 1 newest deprecated versions for 10m"
    assert SetModelVersionStage(mv_name("1.0.0"), "archived", reason) in decision.actions
    assert DeleteDeployment(mv_name("1.0.0")) in decision.actions
    assert mv_name("1.0.0") not in driver.cluster.deployments
    assert stage(driver, "1.1.0") == "deprecated"  # the newest deprecated version is kept
    assert mv_name("1.1.0") in driver.cluster.deployments
    assert [e.message for e in driver.events("Archived")] == [f"{mv_name('1.0.0')}: {reason}"]
    # archived once: later passes ask for nothing more
    driver.run(5)
    later = [a for d in driver.decisions[-5:] for a in d.actions]
    assert not any(isinstance(a, SetModelVersionStage | DeleteDeployment) for a in later)


def test_without_a_policy_nothing_is_archived() -> None:
    driver = new_driver(canary_spec(steps=STEPS, scaleDownDelaySeconds=0), stable="1.0.0")
    ship(driver, "1.1.0", "1.2.0", "2.0.0")
    driver.advance(10**6)
    driver.run(3)
    assert [stage(driver, v) for v in ("1.0.0", "1.1.0", "1.2.0")] == ["deprecated"] * 3
    assert not any(isinstance(a, DeleteDeployment) for a in driver.all_actions())


def test_a_version_still_scaling_down_is_not_archived() -> None:
    retention = {"keepDeprecated": 0, "archiveAfter": "0s"}
    driver = new_driver(canary_spec(steps=STEPS, scaleDownDelaySeconds=3600, retention=retention), stable="1.0.0")
    driver.set_target("1.1.0")
    driver.run_until(lambda d: d.status.stable_version == mv_name("1.1.0"))
    driver.run(3)
    assert stage(driver, "1.0.0") == "deprecated"
    assert driver.cluster.replicas(mv_name("1.0.0")) > 0  # waiting out its scale-down delay
    driver.advance(3600)
    driver.run_until(lambda d: stage(d, "1.0.0") == "archived", max_passes=5)
    assert mv_name("1.0.0") not in driver.cluster.deployments


def test_an_archived_target_is_invalid_with_the_way_out() -> None:
    retention = {"keepDeprecated": 0, "archiveAfter": "0s"}
    driver = new_driver(canary_spec(steps=STEPS, scaleDownDelaySeconds=0, retention=retention), stable="1.0.0")
    ship(driver, "1.1.0")
    assert stage(driver, "1.0.0") == "archived"
    spec = RolloutSpec.model_validate({**driver.spec.model_dump(by_alias=True), "targetVersion": mv_name("1.0.0")})
    [message] = archived_targets(spec, driver.cluster.model_versions)
    assert message.startswith(f"spec.targetVersion: ModelVersion '{mv_name('1.0.0')}' is archived (retention of chat")
    assert f"`modelrollout unarchive {mv_name('1.0.0')}`" in message
    assert archived_targets(driver.spec, driver.cluster.model_versions) == []
