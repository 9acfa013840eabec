"""A ModelVersion two Rollouts roll out: another Rollout's rejection mid-rollout is news, not an order.

The Rollout mid-split on it neither freezes (its spec stays valid, analysis goes on) nor follows
blindly: it finishes or rolls back by its own analysis, and says which. A new rollout onto a
version already rejected elsewhere is still refused.
"""

from __future__ import annotations

import pytest
from fakecluster import NAMESPACE, T0, Driver, canary_spec, model_version, mv_name, new_driver

from modelrollout.api.modelversion import ModelVersion
from modelrollout.api.validation import validate_rollout
from modelrollout.core import reasons
from modelrollout.core.analysis_contract import AnalysisSummary
from modelrollout.core.lifecycle import with_stage
from modelrollout.core.shared import validation_view

V1 = mv_name("1.0.0")
V2 = mv_name("1.1.0")
OTHER = "chat-eu"


def rejected_by(version: ModelVersion, rollout: str, reason: str = "error-rate 0.2 > 0.05") -> ModelVersion:
    status = with_stage(version.status, "rejected", reason, rollout, T0)
    return version.model_copy(update={"status": status})


def mid_split() -> Driver:
    """Canary at 50 % waiting on an analysis step when the other Rollout rejects the candidate."""
    steps = [{"setWeight": 50}, {"analysis": {"metrics": ["error-rate"]}}]
    driver = new_driver(canary_spec(steps=steps))
    driver.run_until(lambda d: d.status.current_step == 1)
    driver.cluster.model_versions[V2] = rejected_by(driver.cluster.model_versions[V2], OTHER)
    return driver


# ------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("rejecting", "in_play", "stays_rejected"),
    [
        pytest.param(OTHER, (V1, V2), False, id="other-rollout-mid-rollout"),
        pytest.param(OTHER, (V1, None), True, id="other-rollout-not-in-play"),
        pytest.param("chat", (V1, None), False, id="this-rollout"),
    ],
)
def test_validation_view(rejecting: str, in_play: tuple[str | None, ...], stays_rejected: bool) -> None:
    versions = {V1: model_version("1.0.0"), V2: rejected_by(model_version("1.1.0"), rejecting)}
    view = validation_view(versions, "chat", in_play)
    assert view[V2].status is not None
    assert (view[V2].status.stage == "rejected") is stays_rejected
    assert versions[V2].status is not None and versions[V2].status.stage == "rejected", "input left as it was"


def test_mid_rollout_a_foreign_rejection_does_not_invalidate_the_spec() -> None:
    versions = {V1: model_version("1.0.0"), V2: rejected_by(model_version("1.1.0"), OTHER)}
    spec = canary_spec()
    assert validate_rollout(spec, validation_view(versions, "chat", (V1, V2)), NAMESPACE) == []


def test_a_new_rollout_onto_a_version_rejected_elsewhere_is_still_refused() -> None:
    versions = {V1: model_version("1.0.0"), V2: rejected_by(model_version("1.1.0"), OTHER)}
    errors = validate_rollout(canary_spec(), validation_view(versions, "chat", (V1, None)), NAMESPACE)
    assert any("was rejected" in error for error in errors), errors


# ------------------------------------------------------------------------------------- the core


def test_the_rollout_goes_on_says_so_once_and_promotes_by_its_own_analysis() -> None:
    driver = mid_split()
    driver.run(3)
    assert driver.status.phase == "Progressing" and driver.status.candidate_version == V2
    assert driver.status.canary_weight == 50, "traffic held where it was, not frozen by an invalid spec"
    [seen] = driver.events(reasons.FOREIGN_REJECTION)
    assert seen.type == "Warning" and f"rejected by Rollout {OTHER}" in seen.message
    assert "error-rate 0.2 > 0.05" in seen.message
    condition = driver.condition(reasons.FOREIGN_REJECTION)
    assert (condition.status, condition.reason) == ("True", reasons.REJECTED_BY_OTHER_ROLLOUT)

    driver.run_until(lambda d: d.status.phase == "Healthy", analysis=AnalysisSummary(step_passed=True))
    assert driver.status.stable_version == V2
    condition = driver.condition(reasons.FOREIGN_REJECTION)
    assert (condition.status, condition.reason) == ("False", "Promoted")
    [verdict] = driver.events(reasons.OWN_VERDICT)
    assert f"rejected by Rollout {OTHER}; Promoted here by chat's own analysis" in verdict.message
    # The registry entry now says this Rollout promoted it (its history keeps the other's verdict).
    entry = driver.cluster.model_versions[V2].status
    assert entry is not None and (entry.stage, entry.rollout) == ("production", "chat")
    assert [change.rollout for change in entry.history if change.stage == "rejected"] == [OTHER]


def test_the_rollout_rolls_back_by_its_own_analysis_and_says_so() -> None:
    driver = mid_split()
    driver.run(2)
    driver.step(AnalysisSummary(critical_failure="error-rate: 0.3 > 0.05"))
    driver.settle()
    assert driver.status.phase == "RolledBack" and driver.status.history[-1].outcome == "RolledBack"
    condition = driver.condition(reasons.FOREIGN_REJECTION)
    assert (condition.status, condition.reason) == ("False", "RolledBack")
    [verdict] = driver.events(reasons.OWN_VERDICT)
    assert verdict.type == "Warning" and "RolledBack here" in verdict.message
    entry = driver.cluster.model_versions[V2].status
    assert entry is not None and (entry.stage, entry.rollout) == ("rejected", "chat")


def test_a_rejection_by_this_rollout_itself_is_no_foreign_verdict() -> None:
    driver = mid_split()
    driver.cluster.model_versions[V2] = rejected_by(driver.cluster.model_versions[V2], "chat")
    driver.step()
    # The operator died between the rollback's actions and its status write: finish the rollback.
    assert driver.status.phase == "RolledBack"
    assert not driver.events(reasons.FOREIGN_REJECTION)
