"""Compatibility gates: may this target replace the stable version for this Rollout's clients? (pure)

A target is compared with the stable version it would replace. Each conflict the Rollout does not
allow in spec.compatibility is an InvalidSpec message naming the conflict and the field that allows
it; nothing is created or moved while one stands.
"""

from __future__ import annotations

from collections.abc import Mapping

from modelrollout.api.modelversion import Compatibility, ModelVersion
from modelrollout.api.registry import CompatibilityPolicy, api_version_key
from modelrollout.api.rollout import RolloutSpec

_ALLOW = "spec.compatibility"


def _major(semver: str) -> int:
    return int(semver.split(".", 1)[0])


def compatibility_conflicts(
    spec: RolloutSpec, stable_version: str | None, versions: Mapping[str, ModelVersion]
) -> list[str]:
    """Conflicts between spec.targetVersion and the stable version that spec.compatibility does not allow.

    Nothing to compare (no stable yet, the target is the stable, either is missing) is no conflict:
    missing versions are reported by validation.
    """
    target_name = spec.target_version
    if stable_version is None or target_name == stable_version:
        return []
    target, stable = versions.get(target_name), versions.get(stable_version)
    if target is None or stable is None or target.spec.model != stable.spec.model:
        return []
    policy = spec.compatibility or CompatibilityPolicy()
    new = target.spec.compatibility or Compatibility()
    old = stable.spec.compatibility or Compatibility()
    what = f"spec.targetVersion: {target_name} ({target.spec.version})"
    against = f"the stable {stable_version} ({stable.spec.version})"
    problems: list[str] = []
    if _major(target.spec.version) > _major(stable.spec.version) and not policy.allow_major_version_change:
        problems.append(
            f"{what} is a major version change from {against}; "
            f"set {_ALLOW}.allowMajorVersionChange: true to roll it out"
        )
    if new.breaking_changes and not policy.allow_breaking_changes:
        listed = "; ".join(new.breaking_changes)
        problems.append(
            f"{what} lists breaking changes ({listed}); set {_ALLOW}.allowBreakingChanges: true to roll it out"
        )
    clients = policy.client_api_version or old.min_api_version
    if new.min_api_version is not None and (
        clients is None or api_version_key(new.min_api_version) > api_version_key(clients)
    ):
        spoken = (
            f"{_ALLOW}.clientApiVersion is {clients}"
            if policy.client_api_version
            else (f"{against} serves clients from {clients}" if clients else f"{against} declares no minApiVersion")
        )
        problems.append(
            f"{what} needs clients of API {new.min_api_version} or newer, but {spoken}; "
            f"set {_ALLOW}.clientApiVersion to the API version your clients speak "
            f"({new.min_api_version} or newer) once they do"
        )
    if (
        new.required_embeddings is not None
        and new.required_embeddings != old.required_embeddings
        and not policy.allow_embeddings_change
    ):
        before = old.required_embeddings or "none declared"
        problems.append(
            f"{what} requires embeddings {new.required_embeddings!r}, {against} uses {before!r}; "
            f"set {_ALLOW}.allowEmbeddingsChange: true once the index is ready"
        )
    return problems
