"""Rollback to a named version: what `undo --to-version` refuses, and how the history records it."""

from __future__ import annotations

from typing import Any

import pytest
from fakecluster import canary_spec, mv_name, new_driver

from modelrollout.api.modelversion import ModelVersion, ModelVersionStatus
from modelrollout.api.rollout import RolloutSpec
from modelrollout.core.rollback import undo_refusal
from modelrollout.devenv.manifests import canary_rollout, model_version

STABLE, OLD = "sa-2-4-0", "sa-2-3-1"


def registry(**old: Any) -> dict[str, ModelVersion]:
    status = old.pop("status", None)
    found = {
        STABLE: ModelVersion.model_validate(model_version(STABLE, "2.4.0")),
        OLD: ModelVersion.model_validate(model_version(OLD, "2.3.1", **old)),
        "other-1-0-0": ModelVersion.model_validate(model_version("other-1-0-0", "1.0.0", model="other")),
    }
    if status is not None:
        found[OLD] = found[OLD].model_copy(update={"status": ModelVersionStatus.model_validate(status)})
    return found


SPEC = RolloutSpec.model_validate(canary_rollout("sa", STABLE, [{"setWeight": 50}])["spec"])


def refusal(to: str, found: dict[str, ModelVersion] | None = None, force: bool = False) -> str | None:
    return undo_refusal("sa", "ns", SPEC, STABLE, registry() if found is None else found, to, force=force)


def test_a_deprecated_version_of_the_model_is_eligible() -> None:
    assert refusal(OLD, registry(status={"stage": "deprecated", "rollout": "sa"})) is None
    assert refusal(STABLE) is None


@pytest.mark.parametrize(
    ("to", "found", "needle"),
    [
        ("sa-9-9-9", registry(), "ModelVersion 'sa-9-9-9' not found in namespace 'ns'; `modelrollout versions"),
        ("other-1-0-0", registry(), "belongs to model 'other', not 'support-agent' of sa"),
        (OLD, registry(status={"stage": "archived"}), "is archived; un-archive it first with `modelrollout unarchive"),
        (OLD, registry(stage="development"), "is in stage development"),
        (
            OLD,
            registry(status={"stage": "rejected", "rollout": "sa", "reason": "error-rate 0.2 > 0.05"}),
            "was rejected (error-rate 0.2 > 0.05); pass --force",
        ),
        (
            OLD,
            registry(status={"stage": "rejected", "rollout": "other-rollout"}),
            "was rejected by Rollout other-rollout; only Rollout other-rollout can try it again",
        ),
        (OLD, registry(compatibility={"requiredEmbeddings": "e2"}), "the operator would refuse it: spec.targetVersion"),
    ],
)
def test_refusals_are_one_line_and_say_why(to: str, found: dict[str, ModelVersion], needle: str) -> None:
    message = refusal(to, found)
    assert message is not None and needle in message
    assert "\n" not in message


def test_force_only_overrides_this_rollouts_rejection() -> None:
    mine = registry(status={"stage": "rejected", "rollout": "sa"})
    assert refusal(OLD, mine, force=True) is None
    theirs = registry(status={"stage": "rejected", "rollout": "other-rollout"})
    assert refusal(OLD, theirs, force=True) is not None
    assert refusal(OLD, registry(status={"stage": "archived"}), force=True) is not None


def test_the_undo_control_is_recorded_in_history_and_the_target_rolls_out() -> None:
    driver = new_driver(canary_spec(steps=[{"setWeight": 50}, {"pause": {}}]))
    driver.set_target("1.1.0")
    driver.run_until(lambda d: d.status.stable_version == mv_name("1.1.0") or d.status.current_step == 1)
    driver.send("promote")
    driver.run_until(lambda d: d.status.stable_version == mv_name("1.1.0"))
    # undo: the edit of spec.targetVersion and the control arrive together
    driver.set_target("1.0.0")
    driver.send("undo")
    driver.step()
    undo = [h for h in driver.status.history if h.outcome == "UndoRequested"]
    assert len(undo) == 1
    assert undo[0].version == mv_name("1.0.0")
    assert undo[0].reason == f"undo to {mv_name('1.0.0')} requested while {mv_name('1.1.0')} served"
    assert driver.status.candidate_version == mv_name("1.0.0")
    driver.run(3)
    assert len([h for h in driver.status.history if h.outcome == "UndoRequested"]) == 1
