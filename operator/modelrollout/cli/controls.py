"""Imperative controls through the Kubernetes API, without touching fields that Git owns."""

from __future__ import annotations

import time
from typing import Any, cast

from kubernetes import client

from modelrollout.api.common import GROUP, VERSION
from modelrollout.api.controls import CONTROL_ANNOTATION, ControlVerb
from modelrollout.api.rollout import PLURAL


class ControlError(RuntimeError):
    """A control that cannot do anything now; the message says why."""


def control_problem(verb: ControlVerb, status: dict[str, Any]) -> str | None:
    """Why `verb` would do nothing for a Rollout in `status` (the operator would ignore it), or None."""
    candidate = status.get("candidateVersion")
    phase = status.get("phase") or "not reconciled yet"
    if verb in ("promote", "promote-full", "abort") and not candidate:
        return f"no rollout in progress (phase {phase}, stable {status.get('stableVersion') or '-'})"
    if verb == "retry" and not status.get("rejected"):
        return "no rejected target to retry"
    if verb == "pause" and status.get("pausedByUser"):
        return "already paused by a user (resume to continue)"
    if verb == "resume" and not status.get("pausedByUser"):
        return "not paused by a user (spec.paused, if set, is Git's to change)"
    return None


def request_control(api_client: client.ApiClient, namespace: str, name: str, verb: ControlVerb) -> str:
    """Set the control annotation to `<verb>/<unique token>`; the operator acts on it once."""
    problem = control_problem(verb, get_rollout(api_client, namespace, name).get("status") or {})
    if problem is not None:
        raise ControlError(f'cannot {verb} rollout "{name}" in namespace "{namespace}": {problem}')
    value = f"{verb}/{time.time_ns()}"
    patch = {"metadata": {"annotations": {CONTROL_ANNOTATION: value}}}
    client.CustomObjectsApi(api_client).patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name, patch)
    return value


def get_rollout(api_client: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    result = client.CustomObjectsApi(api_client).get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    return cast(dict[str, Any], result)
