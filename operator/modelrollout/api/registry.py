"""What a Rollout declares about the versions it may ship and keep: compatibility and retention.

Kept apart from rollout.py so the registry side of the API (ModelVersion as the unit) reads in one
place; RolloutSpec includes these models as `spec.compatibility` and `spec.retention`.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field

from modelrollout.api.common import Duration, SpecModel, StatusModel

# Client API versions as services usually name them: v3, v3.1, 3, 3.1.2. Numeric parts only, so
# that "is v3 at least v2.5?" always has an answer.
API_VERSION_PATTERN = r"^v?[0-9]+(\.[0-9]+){0,2}$"
ApiVersion = Annotated[str, Field(pattern=API_VERSION_PATTERN, max_length=32, examples=["v3", "v3.1"])]


def api_version_key(text: str) -> tuple[int, ...]:
    """Sort key of an API version: v3 < v3.1 < v10; raises ValueError on anything else."""
    if not re.fullmatch(API_VERSION_PATTERN, text):
        raise ValueError(f"invalid API version {text!r}: use v<major>[.<minor>[.<patch>]], e.g. v3 or v3.1")
    parts = [int(part) for part in text.removeprefix("v").split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


class CompatibilityPolicy(SpecModel):
    """What a target may change compared with the stable version it replaces.

    The operator compares the target's spec.compatibility (and semantic version) with the stable
    version's; a conflict not allowed here is an InvalidSpec naming it, and nothing moves.
    """

    client_api_version: ApiVersion | None = Field(
        default=None,
        description=(
            "Newest API version every client of this Rollout speaks. A target whose "
            "compatibility.minApiVersion is above it is refused. Empty: the stable version's "
            "minApiVersion (clients are assumed to speak what they speak today, and no more)."
        ),
    )
    allow_major_version_change: bool = Field(
        default=False,
        description="Allow a target whose MAJOR version is above the stable version's.",
    )
    allow_breaking_changes: bool = Field(
        default=False,
        description="Allow a target that lists compatibility.breakingChanges.",
    )
    allow_embeddings_change: bool = Field(
        default=False,
        description="Allow a target whose compatibility.requiredEmbeddings differs from the stable version's.",
    )


class RetentionPolicy(SpecModel):
    """How many replaced versions stay ready for an instant `undo`, and when older ones are archived.

    A deprecated version keeps its Deployment at 0 replicas: going back to it is a scale-up of an
    existing Deployment (same ReplicaSet, image already on the nodes), not a new object. Versions
    beyond `keepDeprecated` become `archived` once deprecated for `archiveAfter`, and their
    Deployments are deleted. ModelVersion objects are never deleted.
    """

    keep_deprecated: int = Field(
        default=3, ge=0, le=100, description="Deprecated versions of this Rollout kept ready for undo, newest first."
    )
    archive_after: Duration = Field(
        default="24h",
        description="How long a deprecated version beyond keepDeprecated stays deprecated before it is archived.",
    )


class EmergencyStop(StatusModel):
    """An emergency stop in force: all traffic on the stable version until `resume`."""

    at: str = Field(description="When the stop was requested (RFC 3339).")
    stopped_version: str | None = Field(default=None, description="The candidate that was taken out of traffic.")
