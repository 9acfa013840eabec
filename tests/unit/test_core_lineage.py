"""Lineage: parentVersion resolved among a model's versions; a missing parent is a warning condition."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.console import Console

from modelrollout.api.modelversion import ModelVersion, ModelVersionStatus
from modelrollout.cli.registry import semver_key, versions_table
from modelrollout.core.lineage import chain, lineage_condition, with_lineage
from modelrollout.devenv.manifests import model_version

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def mv(name: str, version: str, parent: str | None = None, **spec: Any) -> ModelVersion:
    extra = {"parentVersion": parent} if parent else {}
    return ModelVersion.model_validate(model_version(name, version, **extra, **spec))


def registry(*versions: ModelVersion) -> dict[str, ModelVersion]:
    return {v.metadata["name"]: v for v in versions}


ROOT, CHILD, GRANDCHILD = mv("sa-1", "2.3.1"), mv("sa-2", "2.4.0", "2.3.1"), mv("sa-3", "2.5.0", "2.4.0")
ORPHAN = mv("sa-9", "3.1.0", "3.0.0")
OTHER = mv("other-1", "2.2.0", model="other")


def test_a_found_parent_and_a_root_are_resolved() -> None:
    found = registry(ROOT, CHILD)
    assert lineage_condition(CHILD, found) == ("True", "ParentFound", "parentVersion 2.3.1 is ModelVersion sa-1")
    assert lineage_condition(ROOT, found)[:2] == ("True", "NoParentVersion")


def test_a_missing_parent_is_a_false_condition_naming_it() -> None:
    # a version of another model with the parent's number does not count
    found = registry(ORPHAN, OTHER, mv("other-3", "3.0.0", model="other"))
    status, reason, message = lineage_condition(ORPHAN, found)
    assert (status, reason) == ("False", "ParentNotFound")
    assert message == "parentVersion 3.0.0: no ModelVersion of model support-agent has version 3.0.0"


def test_the_condition_is_written_once_and_follows_the_parent() -> None:
    found = registry(CHILD)
    updated = with_lineage(CHILD, found, NOW)
    assert updated is not None
    [condition] = updated.conditions
    assert (condition.type, condition.status, condition.reason) == ("ParentResolved", "False", "ParentNotFound")
    child = CHILD.model_copy(update={"status": updated})
    assert with_lineage(child, registry(child), NOW) is None  # nothing new to write
    later = with_lineage(child, registry(child, ROOT), NOW)
    assert later is not None and later.conditions[0].status == "True"


def test_chains_run_from_the_oldest_known_ancestor() -> None:
    found = registry(ROOT, CHILD, GRANDCHILD, ORPHAN)
    assert chain("sa-3", found) == ["2.3.1", "2.4.0", "2.5.0"]
    assert chain("sa-1", found) == ["2.3.1"]
    assert chain("sa-9", found) == ["?3.0.0", "3.1.0"]


def test_versions_table_shows_a_model_side_by_side_in_semver_order() -> None:
    performance = {"requests": 1200, "errorRate": 0.0125, "latencyP95Ms": 180.4, "qualityScore": 0.8123, "window": "5m"}
    child = CHILD.model_copy(
        update={"status": ModelVersionStatus.model_validate({"stage": "production", "performance": performance})}
    )
    console = Console(width=250, record=True)
    console.print(versions_table("support-agent", registry(GRANDCHILD, child, ROOT, OTHER, mv("sa-10", "2.10.0"))))
    text = console.export_text()
    rows = [line for line in text.splitlines() if line.startswith("│ sa-")]
    assert [row.split()[1] for row in rows] == ["sa-1", "sa-2", "sa-3", "sa-10"]
    assert "2.3.1 -> 2.4.0 -> 2.5.0" in text
    assert "other-1" not in text
    child_row = rows[1]
    for figure in ("production", "1200", "1.25%", "180", "0.812", "5m"):
        assert figure in child_row


def test_semver_order() -> None:
    assert sorted(["2.10.0", "2.4.0", "2.4.0-rc.1", "1.9.9"], key=semver_key) == [
        "1.9.9",
        "2.4.0-rc.1",
        "2.4.0",
        "2.10.0",
    ]
