"""Names of the objects a Rollout owns, derived from the rollout and version."""

from __future__ import annotations

from modelrollout.api.common import version_slug


def deployment_name(rollout: str, semver: str) -> str:
    """`<rollout>-<version-slug>`, e.g. support-agent-2.4.0."""
    return f"{rollout}-{version_slug(semver)}"[:253]


def active_service(rollout: str) -> str:
    return rollout


def preview_service(rollout: str) -> str:
    return f"{rollout}-preview"


def canary_service(rollout: str) -> str:
    return f"{rollout}-canary"
