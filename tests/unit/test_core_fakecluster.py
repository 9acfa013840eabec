"""The test double of the observed cluster state: readiness delays and the invariant checks."""

from __future__ import annotations

import pytest
from fakecluster import NEVER, ROLLOUT, FakeCluster, InvariantError, canary_spec, mv_name, new_driver

from modelrollout.api.labels import ROLLOUT_LABEL, VERSION_LABEL
from modelrollout.core.actions import EnsureDeployment, SetServiceSelector

V1 = mv_name("1.0.0")
V2 = mv_name("1.1.0")


def cluster(**ready_after: int | None) -> FakeCluster:
    fake = FakeCluster()
    fake.add_versions("1.0.0", "1.1.0")
    for semver, delay in ready_after.items():
        fake.ready_after[mv_name(semver.replace("_", "."))] = delay
    return fake


@pytest.mark.parametrize(
    ("delay", "ready_by_pass"), [(0, [2, 2, 2]), (1, [0, 2, 2]), (2, [0, 0, 2]), (NEVER, [0, 0, 0])]
)
def test_pods_become_ready_after_the_configured_passes(delay: int | None, ready_by_pass: list[int]) -> None:
    fake = FakeCluster()
    fake.add_versions("1.0.0", ready_after=delay)
    fake.apply([EnsureDeployment(V1, 2)])
    seen = []
    for _ in ready_by_pass:
        fake.tick()
        observed = fake.observe()
        assert observed.replicas(V1) == 2
        seen.append(observed.ready(V1))
    assert seen == ready_by_pass


def test_observed_state_carries_labels_names_and_selectors() -> None:
    fake = cluster()
    fake.apply([EnsureDeployment(V1, 1)])
    fake.tick()
    fake.apply([SetServiceSelector(ROLLOUT, "active", "1.0.0")])
    observed = fake.observe()
    state = observed.deployments[V1]
    assert (state.label, state.name, state.replicas, state.ready) == ("1.0.0", "chat-1.0.0", 1, 1)
    assert dict(observed.services[ROLLOUT].selector) == {ROLLOUT_LABEL: ROLLOUT, VERSION_LABEL: "1.0.0"}
    assert set(observed.model_versions) == {V1, V2}


def test_scale_down_removes_unready_pods_first() -> None:
    fake = cluster()
    fake.apply([EnsureDeployment(V1, 1)])
    fake.tick()
    fake.ready_after[V1] = NEVER
    fake.apply([EnsureDeployment(V1, 3)])  # two more that never become ready
    fake.tick()
    fake.apply([EnsureDeployment(V1, 1)])
    assert fake.observe().ready(V1) == 1


def test_selecting_a_version_without_ready_pods_is_a_violation() -> None:
    fake = cluster(**{"1_1_0": 1})
    with pytest.raises(InvariantError, match="no ready pod"):
        fake.apply([EnsureDeployment(V2, 1), SetServiceSelector(ROLLOUT, "active", "1.1.0")])


def test_selecting_every_version_needs_one_ready_pod() -> None:
    fake = cluster()
    fake.apply([EnsureDeployment(V1, 1)])  # created in this pass: not ready yet
    with pytest.raises(InvariantError, match="no ready pod"):
        fake.apply([SetServiceSelector(ROLLOUT, "active", None)])
    fake.tick()
    fake.apply([SetServiceSelector(ROLLOUT, "active", None)])


@pytest.mark.parametrize("switch_in_same_pass", [True, False])
def test_scaling_a_selected_version_to_zero_is_a_violation(switch_in_same_pass: bool) -> None:
    fake = cluster()
    fake.apply([EnsureDeployment(V1, 1), EnsureDeployment(V2, 1)])
    fake.tick()
    fake.apply([SetServiceSelector(ROLLOUT, "active", "1.0.0")])
    actions = [SetServiceSelector(ROLLOUT, "active", "1.1.0")] if switch_in_same_pass else []
    with pytest.raises(InvariantError, match="scaled to 0 while Service"):
        fake.apply([*actions, EnsureDeployment(V1, 0)])


def test_scaling_down_after_the_switch_landed_is_fine() -> None:
    fake = cluster()
    fake.apply([EnsureDeployment(V1, 1), EnsureDeployment(V2, 1)])
    fake.tick()
    fake.apply([SetServiceSelector(ROLLOUT, "active", "1.0.0")])
    fake.apply([SetServiceSelector(ROLLOUT, "active", "1.1.0")])
    fake.tick()
    fake.apply([EnsureDeployment(V1, 0)])
    assert fake.observe().replicas(V1) == 0


def test_driver_starts_from_a_healthy_stable_and_advances_the_clock() -> None:
    driver = new_driver(canary_spec())
    assert driver.status.phase == "Healthy"
    assert driver.status.stable_version == V1
    assert driver.cluster.ready(V1) == 4
    assert {driver.service("active"), driver.service("canary")} == {V1}
    before = driver.now
    driver.step()
    assert (driver.now - before).total_seconds() == driver.tick
    assert driver.generation == 2  # the spec targeting 1.1.0 is a new generation
