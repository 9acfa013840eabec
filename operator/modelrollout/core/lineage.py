"""Lineage: each ModelVersion's parentVersion, resolved among the versions of its model (pure).

A parent that has no ModelVersion (deleted, never registered, in another namespace) is worth a
warning on the child, not an error: lineage is a record, and nothing depends on it to serve.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from modelrollout.api.common import ConditionStatus, format_time
from modelrollout.api.modelversion import ModelVersion, ModelVersionStatus
from modelrollout.core.conditions import get_condition, set_condition

# Condition type and reasons on ModelVersions.
PARENT_RESOLVED = "ParentResolved"
PARENT_FOUND = "ParentFound"
PARENT_NOT_FOUND = "ParentNotFound"
NO_PARENT = "NoParentVersion"


def parent_of(version: ModelVersion, versions: Mapping[str, ModelVersion]) -> str | None:
    """Name of the ModelVersion of the same model whose spec.version is this one's parentVersion."""
    wanted = version.spec.parent_version
    if wanted is None:
        return None
    matches = sorted(
        name
        for name, other in versions.items()
        if other.spec.model == version.spec.model and other.spec.version == wanted
    )
    return matches[0] if matches else None


def lineage_condition(version: ModelVersion, versions: Mapping[str, ModelVersion]) -> tuple[ConditionStatus, str, str]:
    """(status, reason, message) of the ParentResolved condition."""
    parent = version.spec.parent_version
    if parent is None:
        return "True", NO_PARENT, "no parentVersion: the root of its lineage"
    name = parent_of(version, versions)
    if name is None:
        return (
            "False",
            PARENT_NOT_FOUND,
            f"parentVersion {parent}: no ModelVersion of model {version.spec.model} has version {parent}",
        )
    return "True", PARENT_FOUND, f"parentVersion {parent} is ModelVersion {name}"


def with_lineage(
    version: ModelVersion, versions: Mapping[str, ModelVersion], now: datetime
) -> ModelVersionStatus | None:
    """The status with its ParentResolved condition up to date, or None when it already is."""
    status, reason, message = lineage_condition(version, versions)
    current = version.status or ModelVersionStatus()
    found = get_condition(current.conditions, PARENT_RESOLVED)
    if found is not None and (found.status, found.reason, found.message) == (status, reason, message):
        return None
    generation = version.metadata.get("generation")
    updated = current.model_copy(deep=True)
    updated.conditions = set_condition(
        updated.conditions,
        PARENT_RESOLVED,
        status,
        reason,
        message,
        format_time(now),
        int(generation) if generation is not None else None,
    )
    return updated


def chain(name: str, versions: Mapping[str, ModelVersion]) -> list[str]:
    """Semantic versions from the oldest known ancestor to `name`; a missing parent shows as "?<version>"."""
    path: list[str] = []
    seen: set[str] = set()
    current: str | None = name
    while current is not None and current not in seen and current in versions:
        seen.add(current)
        version = versions[current]
        path.append(version.spec.version)
        parent = parent_of(version, versions)
        if parent is None and version.spec.parent_version is not None:
            path.append(f"?{version.spec.parent_version}")
        current = parent
    return list(reversed(path))
