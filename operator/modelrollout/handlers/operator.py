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

from modelrollout.adapters.kube import KubernetesGateway, load_api_client
from modelrollout.adapters.routes import KubernetesRoutes
from modelrollout.api.common import GROUP, VERSION
from modelrollout.api.labels import ROLLOUT_LABEL
from modelrollout.api.modelversion import ModelVersionSpec, ModelVersionStatus
from modelrollout.core.lifecycle import registered
from modelrollout.handlers.analysis_runner import PrometheusAnalyzer
from modelrollout.handlers.reconciler import reconcile_rollout, utcnow
from modelrollout.handlers.settings import load_settings
from modelrollout.handlers.workers import WorkerRegistry

log = logging.getLogger(__name__)


class OperatorState:
    """What the handlers share; built at startup from the environment."""

    registry: WorkerRegistry | None = None
    gateway: KubernetesGateway | None = None


STATE = OperatorState()


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.peering.standalone = True
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    # `modelrollout run` puts the settings it built into the memo; `kopf run -m` gets the defaults.
    operator_settings = memo.get("settings") or load_settings(
        prometheus_url=os.environ.get("MODELROLLOUT_PROMETHEUS_URL"), namespace=os.environ.get("POD_NAMESPACE")
    )
    api_client = load_api_client(os.environ.get("KUBECONFIG") or None)
    gateway = KubernetesGateway(api_client)
    routes = KubernetesRoutes(api_client)
    analyzer = PrometheusAnalyzer(gateway, operator_settings)
    STATE.gateway = gateway
    STATE.registry = WorkerRegistry(
        lambda namespace, name: reconcile_rollout(
            gateway, namespace, name, analyzer, utcnow, routes, settings=operator_settings
        )
    )


@kopf.on.cleanup()
async def shutdown(**_: Any) -> None:
    if STATE.registry is not None:
        await STATE.registry.stop_all()


@kopf.on.event(GROUP, VERSION, "rollouts")
async def rollout_event(event: kopf.RawEvent, namespace: str | None, name: str | None, **_: Any) -> None:
    if STATE.registry is None or namespace is None or name is None:
        return
    if event["type"] == "DELETED":
        await STATE.registry.stop(namespace, name)
    else:
        STATE.registry.wake(namespace, name)


@kopf.on.event("apps", "v1", "deployments", labels={ROLLOUT_LABEL: kopf.PRESENT})
async def deployment_event(labels: kopf.Labels, namespace: str | None, **_: Any) -> None:
    """Readiness changes of a version's pods move a rollout forward without waiting for a resync."""
    if STATE.registry is not None and namespace is not None:
        STATE.registry.wake_existing(namespace, labels[ROLLOUT_LABEL])


@kopf.on.event("", "v1", "configmaps", labels={ROLLOUT_LABEL: kopf.PRESENT})
async def route_table_event(labels: kopf.Labels, namespace: str | None, **_: Any) -> None:
    """An edited or deleted route table (userHash) is published again without waiting for a resync."""
    if STATE.registry is not None and namespace is not None:
        STATE.registry.wake_existing(namespace, labels[ROLLOUT_LABEL])


@kopf.on.event("gateway.networking.k8s.io", "v1", "httproutes")
async def http_route_event(namespace: str | None, **_: Any) -> None:
    """An edit of an HTTPRoute's weights is put back without waiting for a resync. Routes carry
    no label of ours (they are the user's), so every Rollout of the namespace looks again."""
    if STATE.registry is not None and namespace is not None:
        STATE.registry.wake_namespace(namespace)


@kopf.on.event(GROUP, VERSION, "modelversions")
async def model_version_event(
    event: kopf.RawEvent, body: kopf.Body, namespace: str | None, name: str | None, **_: Any
) -> None:
    """Register new versions in the registry (status.stage) and let rollouts re-validate."""
    if namespace is None or name is None or event["type"] == "DELETED":
        return
    try:
        spec = ModelVersionSpec.model_validate(dict(body.get("spec", {})))
        status = ModelVersionStatus.model_validate(dict(body.get("status", {}) or {})) if body.get("status") else None
    except ValueError as error:
        log.warning("ModelVersion %s/%s unreadable: %s", namespace, name, error)
        return
    update = registered(spec, status, utcnow())
    if update is not None and STATE.gateway is not None:
        await asyncio.to_thread(
            STATE.gateway.patch_model_version_status,
            namespace,
            name,
            update.model_dump(by_alias=True, exclude_none=True, mode="json"),
        )
    if STATE.registry is not None:
        STATE.registry.wake_namespace(namespace)
