"""`modelrollout undo R --to-version V`: checked first, then one edit of spec.targetVersion."""

from __future__ import annotations

import time
from typing import Any, cast

from kubernetes import client

from modelrollout.adapters.kube import KubernetesGateway
from modelrollout.api.common import GROUP, VERSION
from modelrollout.api.controls import CONTROL_ANNOTATION
from modelrollout.api.rollout import PLURAL, RolloutSpec, RolloutStatus
from modelrollout.core.rollback import undo_refusal
from modelrollout.handlers.reconciler import read_model_versions


class UndoRefused(Exception):  # noqa: N818  (a refusal, not a program error)
    """The undo would not do what the user asked; the message says why, in one line."""


def undo(
    api_client: client.ApiClient, namespace: str, name: str, to_version: str, *, force: bool = False
) -> dict[str, Any]:
    """Point spec.targetVersion at `to_version` after checking it may serve (UndoRefused otherwise).

    The edit carries the `undo` control, so the Rollout's history records the request, and the
    resourceVersion read, so a concurrent edit makes it fail instead of being overwritten.
    """
    custom = client.CustomObjectsApi(api_client)
    try:
        rollout = cast(dict[str, Any], custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name))
    except client.ApiException as error:
        if error.status == 404:
            raise UndoRefused(f"Rollout {name!r} not found in namespace {namespace!r}") from error
        raise
    spec = RolloutSpec.model_validate(rollout.get("spec") or {})
    status = RolloutStatus.model_validate(rollout.get("status") or {})
    versions = read_model_versions(KubernetesGateway(api_client), namespace)
    refusal = undo_refusal(name, namespace, spec, status.stable_version, versions, to_version, force=force)
    if refusal is not None:
        raise UndoRefused(refusal)
    patch = {
        "metadata": {
            "resourceVersion": rollout["metadata"]["resourceVersion"],
            "annotations": {CONTROL_ANNOTATION: f"undo/{time.time_ns()}"},
        },
        "spec": {"targetVersion": to_version},
    }
    result = custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name, patch)
    return cast(dict[str, Any], result)
