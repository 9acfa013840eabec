"""The model registry's bookkeeping on ModelVersions that no Rollout pass does: lineage conditions."""

from __future__ import annotations

import logging
from datetime import datetime

from modelrollout.adapters.kube import KubeGateway
from modelrollout.core.lineage import with_lineage
from modelrollout.handlers.reconciler import read_model_versions

log = logging.getLogger(__name__)


def refresh_lineage(kube: KubeGateway, namespace: str, model: str, now: datetime) -> int:
    """Bring the ParentResolved condition of every version of `model` up to date; returns how many changed.

    Runs on any ModelVersion event of the model, deletions included: a deleted parent turns its
    children's condition False, a parent created later turns it True.
    """
    versions = read_model_versions(kube, namespace)
    changed = 0
    for name, version in sorted(versions.items()):
        if version.spec.model != model:
            continue
        status = with_lineage(version, versions, now)
        if status is None:
            continue
        conditions = [c.model_dump(by_alias=True, exclude_none=True, mode="json") for c in status.conditions]
        kube.patch_model_version_status(namespace, name, {"conditions": conditions})
        changed += 1
    return changed
