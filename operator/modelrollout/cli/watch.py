"""`status --watch`: follow one Rollout with a Kubernetes watch until it settles or time runs out."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

from kubernetes import client, watch

from modelrollout.api.common import GROUP, VERSION
from modelrollout.api.rollout import PLURAL

# Exit codes of `status --watch --timeout`, as CI reads them.
EXIT_HEALTHY = 0
EXIT_FAILED = 1
EXIT_TIMEOUT = 2
FAILED_PHASES = ("RolledBack", "Degraded")
# Longest single watch request; the watch is reopened from the last resourceVersion after it.
WATCH_SECONDS = 60


class RolloutGoneError(RuntimeError):
    """The Rollout was deleted while being watched."""


def settled(rollout: dict[str, Any]) -> int | None:
    """The exit code once the operator has acted on the current spec and the rollout is done;
    None while it is still on its way (or has not seen the latest spec yet)."""
    status = rollout.get("status") or {}
    generation = int((rollout.get("metadata") or {}).get("generation") or 0)
    if int(status.get("observedGeneration") or 0) < generation:
        return None
    phase = status.get("phase")
    if phase == "Healthy" and not status.get("candidateVersion"):
        return EXIT_HEALTHY
    if phase in FAILED_PHASES:
        return EXIT_FAILED
    return None


def follow(
    api_client: client.ApiClient,
    namespace: str,
    name: str,
    on_change: Callable[[dict[str, Any]], None],
    timeout: float | None = None,
) -> int:
    """Calls `on_change` with the Rollout now and after every change; returns the exit code."""
    custom = client.CustomObjectsApi(api_client)
    deadline = None if timeout is None else time.monotonic() + timeout
    rollout = cast(dict[str, Any], custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name))
    on_change(rollout)
    while True:
        code = settled(rollout)
        if code is not None:
            return code
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return EXIT_TIMEOUT
        seconds = WATCH_SECONDS if remaining is None else max(1, min(WATCH_SECONDS, int(remaining + 0.999)))
        stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
            custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            namespace,
            PLURAL,
            field_selector=f"metadata.name={name}",
            resource_version=rollout["metadata"]["resourceVersion"],
            timeout_seconds=seconds,
            _request_timeout=seconds + 5,
        )
        for event in stream:
            kind, obj = event["type"], cast(dict[str, Any], event["object"])
            if kind == "DELETED":
                raise RolloutGoneError(f'rollout "{name}" in namespace "{namespace}" was deleted')
            if kind == "ERROR":
                # Expired resourceVersion (410): start again from a fresh read.
                obj = cast(dict[str, Any], custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name))
            rollout = obj
            on_change(rollout)
            if settled(rollout) is not None:
                break
            if deadline is not None and time.monotonic() >= deadline:
                break
