"""Imperative controls through the Kubernetes API, without touching fields that Git owns."""

from __future__ import annotations

import time
from typing import Any, cast

from kubernetes import client

from modelrollout.api.common import GROUP, VERSION
from modelrollout.api.controls import CONTROL_ANNOTATION, ControlVerb
from modelrollout.api.rollout import PLURAL


def request_control(api_client: client.ApiClient, namespace: str, name: str, verb: ControlVerb) -> str:
    """Set the control annotation to `<verb>/<unique token>`; the operator acts on it once."""
    value = f"{verb}/{time.time_ns()}"
    patch = {"metadata": {"annotations": {CONTROL_ANNOTATION: value}}}
    client.CustomObjectsApi(api_client).patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name, patch)
    return value


def get_rollout(api_client: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    result = client.CustomObjectsApi(api_client).get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    return cast(dict[str, Any], result)
