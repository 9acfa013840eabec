"""Names of the objects a Rollout owns, derived from the rollout and version."""

from __future__ import annotations

from modelrollout.api.common import version_slug
from modelrollout.api.rollout import MAX_AB_VARIANTS


def deployment_name(rollout: str, semver: str) -> str:
    """`<rollout>-<version-slug>`, e.g. support-agent-2.4.0."""
    return f"{rollout}-{version_slug(semver)}"[:253]


def active_service(rollout: str) -> str:
    return rollout


def preview_service(rollout: str) -> str:
    return f"{rollout}-preview"


def canary_service(rollout: str) -> str:
    return f"{rollout}-canary"


def variant_service(rollout: str, slot: int) -> str:
    """The Service of an A/B variant other than the control: one per place in spec.strategy.abTest.variants,
    so a Rollout has at most as many as a test has variants, whatever versions come and go."""
    return f"{rollout}-ab-{slot}"


def variant_services(rollout: str) -> list[str]:
    """Every variant Service name a Rollout may own."""
    return [variant_service(rollout, slot) for slot in range(MAX_AB_VARIANTS)]
