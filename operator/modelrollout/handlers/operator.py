"""The kopf handlers. Thin on purpose: watch events wake per-Rollout workers; workers reconcile.

Only `on.event` handlers are used: they need no finalizers and store nothing on the objects,
so deleting a Rollout or a namespace never waits for the operator.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import kopf

from modelrollout.adapters.kube import KubernetesGateway, controller_of, load_api_client
from modelrollout.api.common import GROUP, VERSION
from modelrollout.api.labels import ROLLOUT_LABEL
from modelrollout.api.modelversion import ModelVersionSpec, ModelVersionStatus
from modelrollout.core.lifecycle import registered
from modelrollout.handlers.analysis_runner import PrometheusAnalyzer
from modelrollout.handlers.cache import INDEXES, ROLLOUTS, ROLLOUTS_BY_MODEL, ClusterCache, WriteThrough
from modelrollout.handlers.leadership import Leadership
from modelrollout.handlers.reconciler import reconcile_rollout, utcnow
from modelrollout.handlers.settings import load_settings
from modelrollout.handlers.workers import RECONCILE_THREADS, WorkerRegistry

log = logging.getLogger(__name__)


class OperatorState:
    """What the handlers share; built at startup from the environment."""

    registry: WorkerRegistry | None = None
    gateway: KubernetesGateway | None = None
    cache: ClusterCache | None = None


STATE = OperatorState()


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **kwargs: Any) -> None:
    settings.peering.standalone = True
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    # `modelrollout run` puts the settings it built into the memo; `kopf run -m` gets the defaults.
    operator_settings = memo.get("settings") or load_settings(
        prometheus_url=os.environ.get("MODELROLLOUT_PROMETHEUS_URL"), namespace=os.environ.get("POD_NAMESPACE")
    )
    # Every reconcile thread holds at most one connection at a time, plus kopf's status patches.
    gateway = KubernetesGateway(load_api_client(os.environ.get("KUBECONFIG") or None, pool_size=RECONCILE_THREADS + 4))
    # kopf hands its indexes (empty until their first listing) to every handler, startup included.
    cache = ClusterCache({index: kwargs[index] for index in INDEXES})
    writer = WriteThrough(gateway, cache)
    analyzer = PrometheusAnalyzer(gateway, operator_settings)
    STATE.gateway = gateway
    STATE.cache = cache
    STATE.registry = WorkerRegistry(
        lambda namespace, name: reconcile_rollout(
            cache, writer, namespace, name, analyzer, utcnow, settings=operator_settings
        ),
        max_threads=RECONCILE_THREADS,
        leading=not operator_settings.leader_election.enabled,
    )
    if operator_settings.leader_election.enabled:
        loop = asyncio.get_running_loop()
        rollouts: kopf.Index[tuple[str, str], Any] = kwargs[ROLLOUTS]
        registry = STATE.registry

        def started() -> None:
            loop.call_soon_threadsafe(lambda: registry.lead(list(rollouts)))

        def stopped() -> None:
            asyncio.run_coroutine_threadsafe(registry.follow(), loop).result()

        namespace = operator_settings.namespace or os.environ.get("POD_NAMESPACE") or "default"
        Leadership(gateway.api_client, operator_settings.leader_election, namespace, started, stopped).start()


@kopf.on.cleanup()
async def shutdown(**_: Any) -> None:
    if STATE.registry is not None:
        await STATE.registry.stop_all()


def is_echo(kind: str, event: kopf.RawEvent, namespace: str, name: str) -> bool:
    """An event that only reports our own last write: the pass that wrote it already saw it."""
    version = str(event["object"].get("metadata", {}).get("resourceVersion", ""))
    return STATE.cache is not None and STATE.cache.is_echo(kind, namespace, name, version)


@kopf.on.event(GROUP, VERSION, "rollouts")
async def rollout_event(event: kopf.RawEvent, namespace: str | None, name: str | None, **_: Any) -> None:
    if STATE.registry is None or namespace is None or name is None:
        return
    if event["type"] == "DELETED":
        await STATE.registry.stop(namespace, name)
        if STATE.cache is not None:
            STATE.cache.forget("Rollout", namespace, name)
    elif not is_echo("Rollout", event, namespace, name):
        STATE.registry.wake(namespace, name)


def wake_owner(kind: str, event: kopf.RawEvent, namespace: str | None, name: str | None) -> None:
    """Wake the Rollout that owns a changed (or deleted) child, found by owner reference or label."""
    if STATE.registry is None or namespace is None or name is None:
        return
    meta: dict[str, Any] = dict(event["object"].get("metadata") or {})
    if event["type"] == "DELETED":
        if STATE.cache is not None:
            STATE.cache.forget(kind, namespace, name)
    elif is_echo(kind, event, namespace, name):
        return
    controller = controller_of(meta)
    owner = controller.name if controller is not None and controller.kind == "Rollout" else None
    owner = owner or (meta.get("labels") or {}).get(ROLLOUT_LABEL)
    if owner:
        STATE.registry.wake_existing(namespace, owner)


@kopf.on.event("apps", "v1", "deployments")
async def deployment_event(event: kopf.RawEvent, namespace: str | None, name: str | None, **_: Any) -> None:
    """Readiness changes and hand edits of a version's Deployment wake its Rollout at once."""
    wake_owner("Deployment", event, namespace, name)


@kopf.on.event("", "v1", "services")
async def service_event(event: kopf.RawEvent, namespace: str | None, name: str | None, **_: Any) -> None:
    """A hand-edited selector or a deleted Service is put back by the next pass, not the next resync."""
    wake_owner("Service", event, namespace, name)


@kopf.on.event(GROUP, VERSION, "modelversions")
async def model_version_event(
    event: kopf.RawEvent, body: kopf.Body, namespace: str | None, name: str | None, **kwargs: Any
) -> None:
    """Register new versions in the registry (status.stage) and let this model's rollouts re-validate."""
    if namespace is None or name is None or event["type"] == "DELETED":
        return
    try:
        spec = ModelVersionSpec.model_validate(dict(body.get("spec", {})))
        status = ModelVersionStatus.model_validate(dict(body.get("status", {}) or {})) if body.get("status") else None
    except ValueError as error:
        log.warning("ModelVersion %s/%s unreadable: %s", namespace, name, error)
        return
    leading = STATE.registry is not None and STATE.registry.leading
    update = registered(spec, status, utcnow())
    if update is not None and STATE.gateway is not None and leading:
        await asyncio.to_thread(
            STATE.gateway.patch_model_version_status,
            namespace,
            name,
            update.model_dump(by_alias=True, exclude_none=True, mode="json"),
        )
    if STATE.registry is not None and not is_echo("ModelVersion", event, namespace, name):
        rollouts: kopf.Index[tuple[str, str], str] = kwargs[ROLLOUTS_BY_MODEL]
        for rollout in list(rollouts.get((namespace, spec.model), [])):
            STATE.registry.wake_existing(namespace, rollout)
