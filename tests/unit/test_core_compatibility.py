"""Compatibility gates: a target conflicting with the stable version is refused until the Rollout allows it."""

from __future__ import annotations

from typing import Any

import pytest

from modelrollout.api.modelversion import ModelVersion
from modelrollout.api.registry import api_version_key
from modelrollout.api.rollout import RolloutSpec
from modelrollout.core.compatibility import compatibility_conflicts
from modelrollout.devenv.manifests import canary_rollout, model_version

STABLE, TARGET = "sa-2-3-1", "sa-target"


def versions(
    target_version: str = "2.4.0", stable: dict[str, Any] | None = None, **target: Any
) -> dict[str, ModelVersion]:
    old = model_version(STABLE, "2.3.1", **({"compatibility": stable} if stable is not None else {}))
    new = model_version(TARGET, target_version, **({"compatibility": target} if target else {}))
    return {STABLE: ModelVersion.model_validate(old), TARGET: ModelVersion.model_validate(new)}


def spec(**compatibility: Any) -> RolloutSpec:
    extra = {"compatibility": compatibility} if compatibility else {}
    return RolloutSpec.model_validate(canary_rollout("sa", TARGET, [{"setWeight": 50}], **extra)["spec"])


def conflicts(rollout: RolloutSpec, found: dict[str, ModelVersion], stable: str | None = STABLE) -> list[str]:
    return compatibility_conflicts(rollout, stable, found)


def test_a_compatible_minor_upgrade_passes() -> None:
    found = versions(stable={"minApiVersion": "v3", "requiredEmbeddings": "e-small"})
    assert conflicts(spec(), versions("2.4.0", {"minApiVersion": "v3"}, minApiVersion="v3")) == []
    assert conflicts(spec(), found) == []


@pytest.mark.parametrize(
    ("target_version", "target", "stable", "allow", "needle"),
    [
        ("3.0.0", {}, {}, "allowMajorVersionChange", "major version change from the stable sa-2-3-1 (2.3.1)"),
        (
            "2.4.0",
            {"breakingChanges": ["tool calls return JSON"]},
            {},
            "allowBreakingChanges",
            "tool calls return JSON",
        ),
        (
            "2.4.0",
            {"requiredEmbeddings": "e-large"},
            {"requiredEmbeddings": "e-small"},
            "allowEmbeddingsChange",
            "requires embeddings 'e-large', the stable sa-2-3-1 (2.3.1) uses 'e-small'",
        ),
    ],
)
def test_each_conflict_names_itself_and_the_field_allowing_it(
    target_version: str, target: dict[str, Any], stable: dict[str, Any], allow: str, needle: str
) -> None:
    found = versions(target_version, stable, **target)
    [message] = conflicts(spec(), found)
    assert message.startswith(f"spec.targetVersion: {TARGET} ({target_version})")
    assert needle in message
    assert f"spec.compatibility.{allow}: true" in message
    assert conflicts(spec(**{allow: True}), found) == []


def test_min_api_version_is_compared_with_what_clients_speak() -> None:
    found = versions(stable={"minApiVersion": "v3"}, minApiVersion="v4")
    [message] = conflicts(spec(), found)
    assert "needs clients of API v4 or newer, but the stable sa-2-3-1 (2.3.1) serves clients from v3" in message
    assert "spec.compatibility.clientApiVersion" in message
    assert conflicts(spec(clientApiVersion="v4"), found) == []
    assert conflicts(spec(clientApiVersion="v4.1"), found) == []
    [declared] = conflicts(spec(clientApiVersion="v3.9"), found)
    assert "spec.compatibility.clientApiVersion is v3.9" in declared
    # an older minimum is always fine: today's clients still work
    assert conflicts(spec(), versions(stable={"minApiVersion": "v4"}, minApiVersion="v3")) == []


def test_a_stable_without_a_minimum_does_not_vouch_for_a_new_one() -> None:
    [message] = conflicts(spec(), versions(minApiVersion="v2"))
    assert "declares no minApiVersion" in message
    assert conflicts(spec(clientApiVersion="v2"), versions(minApiVersion="v2")) == []


def test_several_conflicts_are_all_reported() -> None:
    found = versions("3.0.0", {}, breakingChanges=["renamed field"], requiredEmbeddings="e2")
    assert len(conflicts(spec(), found)) == 3


def test_nothing_to_compare_is_no_conflict() -> None:
    found = versions("3.0.0", breakingChanges=["x"])
    assert conflicts(spec(), found, stable=None) == []  # the first version has nothing to break
    assert conflicts(spec(), {TARGET: found[TARGET]}) == []  # stable gone: validation's business
    assert conflicts(spec(), {STABLE: found[STABLE]}) == []  # target missing: validation's business
    same = RolloutSpec.model_validate(canary_rollout("sa", STABLE, [{"setWeight": 50}])["spec"])
    assert conflicts(same, found) == []  # staying on the stable version


def test_a_major_downgrade_is_not_a_bump() -> None:
    found = {
        STABLE: ModelVersion.model_validate(model_version(STABLE, "3.0.0")),
        TARGET: ModelVersion.model_validate(model_version(TARGET, "2.9.0")),
    }
    assert conflicts(spec(), found) == []


@pytest.mark.parametrize(
    ("low", "high"), [("v3", "v3.1"), ("v3.1", "v10"), ("3", "v4"), ("v3.1", "v3.1.1"), ("v2.9.9", "v3")]
)
def test_api_versions_order_numerically(low: str, high: str) -> None:
    assert api_version_key(low) < api_version_key(high)
    assert api_version_key("v3") == api_version_key("3.0.0")


def test_api_versions_must_be_numeric() -> None:
    with pytest.raises(ValueError, match="v<major>"):
        api_version_key("latest")
