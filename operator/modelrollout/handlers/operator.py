"""The kopf handlers. Thin on purpose: watch events wake per-Rollout workers; workers reconcile.

Only `on.event` handlers are used: they need no finalizers and store nothing on the objects,
so deleting a Rollout or a namespace never waits for the operator.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from typing import Any

import kopf
from kubernetes.client.exceptions import ApiException
from prometheus_client import start_http_server

from modelrollout.adapters.kube import KubernetesGateway, controller_of, load_api_client
from modelrollout.adapters.routes import KubernetesRoutes
from modelrollout.api.common import GROUP, VERSION
from modelrollout.api.labels import ROLLOUT_LABEL
from modelrollout.api.modelversion import ModelVersionSpec, ModelVersionStatus
from modelrollout.api.settings import OperatorSettings
from modelrollout.core.lifecycle import registered
from modelrollout.handlers.analysis_runner import PrometheusAnalyzer
from modelrollout.handlers.analytics import PerformanceRefresher
from modelrollout.handlers.cache import INDEXES, ROLLOUTS, ROLLOUTS_BY_MODEL, ClusterCache, WriteThrough
from modelrollout.handlers.leadership import Leadership
from modelrollout.handlers.login import login
from modelrollout.handlers.mv_changes import ModelVersionChanges
from modelrollout.handlers.notify import Notifier
from modelrollout.handlers.reconciler import reconcile_rollout, utcnow
from modelrollout.handlers.registry import refresh_lineage
from modelrollout.handlers.settings import load_settings
from modelrollout.handlers.telemetry import OperatorMetrics
from modelrollout.handlers.workers import RECONCILE_THREADS, WorkerRegistry

log = logging.getLogger(__name__)


class OperatorState:
    """What the handlers share; built at startup from the settings."""

    registry: WorkerRegistry | None = None
    gateway: KubernetesGateway | None = None
    analytics: PerformanceRefresher | None = None
    notifier: Notifier | None = None
    stop_metrics: Any = None
    cache: ClusterCache | None = None


STATE = OperatorState()
MODEL_VERSION_CHANGES = ModelVersionChanges()


def operator_settings(memo: kopf.Memo) -> OperatorSettings:
    """`modelrollout run` puts the settings it built into the memo; `kopf run -m` gets the environment's."""
    settings = memo.get("settings")
    if settings is None:
        settings = load_settings(
            prometheus_url=os.environ.get("MODELROLLOUT_PROMETHEUS_URL"), namespace=os.environ.get("POD_NAMESPACE")
        )
        memo["settings"] = settings
    assert isinstance(settings, OperatorSettings)
    return settings


def timed_pass(metrics: OperatorMetrics, run_pass: Any) -> Any:
    """The pass with its duration and API errors recorded; a Rollout that is gone leaves the gauges."""

    def run(namespace: str, name: str) -> float | None:
        started = time.monotonic()
        result = "error"
        try:
            requeue: float | None = run_pass(namespace, name)
            result = "ok"
        except ApiException as error:
            metrics.api_errors.labels(str(error.status or "connection")).inc()
            raise
        except OSError:
            metrics.api_errors.labels("connection").inc()
            raise
        finally:
            metrics.reconcile_seconds.labels(result).observe(time.monotonic() - started)
        if requeue is None:
            metrics.forget(namespace, name)
        return requeue

    return run


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **kwargs: Any) -> None:
    settings.peering.standalone = True
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    options = operator_settings(memo)
    metrics = OperatorMetrics()
    if options.metrics_port is not None:
        server, _thread = start_http_server(options.metrics_port, registry=metrics.registry)
        STATE.stop_metrics = server.shutdown
        log.info("serving metrics on :%d/metrics", options.metrics_port)
    # The same kubeconfig as kopf's own login (below): watches and writes reach one cluster.
    # Every reconcile thread holds at most one connection at a time, plus kopf's status patches.
    api_client = load_api_client(options.kubeconfig, pool_size=RECONCILE_THREADS + 4)
    gateway = KubernetesGateway(api_client)
    routes = KubernetesRoutes(api_client)
    # kopf hands its indexes (empty until their first listing) to every handler, startup included.
    cache = ClusterCache({index: kwargs[index] for index in INDEXES})
    writer = WriteThrough(gateway, cache)
    analyzer = PrometheusAnalyzer(gateway, options)
    notifier = Notifier(gateway, options, metrics)
    STATE.gateway = gateway
    STATE.cache = cache
    STATE.notifier = notifier
    STATE.analytics = PerformanceRefresher(gateway, analyzer, options.analytics)
    STATE.registry = WorkerRegistry(
        timed_pass(
            metrics,
            lambda namespace, name: reconcile_rollout(
                cache,
                writer,
                namespace,
                name,
                analyzer,
                utcnow,
                routes,
                settings=options,
                observers=(metrics.record, notifier),
            ),
        ),
        max_threads=RECONCILE_THREADS,
        leading=not options.leader_election.enabled,
    )
    if options.leader_election.enabled:
        loop = asyncio.get_running_loop()
        rollouts: kopf.Index[tuple[str, str], Any] = kwargs[ROLLOUTS]
        registry = STATE.registry

        def started() -> None:
            loop.call_soon_threadsafe(lambda: registry.lead(list(rollouts)))

        def stopped() -> None:
            asyncio.run_coroutine_threadsafe(registry.follow(), loop).result()

        namespace = options.namespace or os.environ.get("POD_NAMESPACE") or "default"
        Leadership(gateway.api_client, options.leader_election, namespace, started, stopped).start()


@kopf.on.login()
def authenticate(settings: kopf.OperatorSettings, memo: kopf.Memo, logger: Any, **_: Any) -> kopf.ConnectionInfo | None:
    return login(operator_settings(memo), settings, logger)


@kopf.on.cleanup()
async def shutdown(**_: Any) -> None:
    if STATE.registry is not None:
        await STATE.registry.stop_all()
    if STATE.analytics is not None:
        await STATE.analytics.stop()
    if STATE.notifier is not None:
        STATE.notifier.close()
    if STATE.stop_metrics is not None:
        STATE.stop_metrics()


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
        if STATE.analytics is not None:
            STATE.analytics.note(namespace)


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
    event: kopf.RawEvent, body: kopf.Body, namespace: str | None, name: str | None, **kwargs: Any
) -> None:
    """Register new versions in the registry (status.stage), resolve lineage, and let this model's
    rollouts re-validate."""
    if namespace is None or name is None:
        return
    model = (body.get("spec") or {}).get("model")
    relevance = MODEL_VERSION_CHANGES.observe(str(event["type"]), namespace, name, body)
    leading = STATE.registry is not None and STATE.registry.leading
    if STATE.gateway is not None and isinstance(model, str) and leading and relevance.lineage:
        await asyncio.to_thread(refresh_lineage, STATE.gateway, namespace, model, utcnow())
    if event["type"] == "DELETED":
        return
    try:
        spec = ModelVersionSpec.model_validate(dict(body.get("spec", {})))
        status = ModelVersionStatus.model_validate(dict(body.get("status", {}) or {})) if body.get("status") else None
    except ValueError as error:
        log.warning("ModelVersion %s/%s unreadable: %s", namespace, name, error)
        return
    update = registered(spec, status, utcnow())
    if update is not None and STATE.gateway is not None and leading:
        # Guarded by the resourceVersion seen: a late event must not take a version that a rollout
        # has since made `production` back to `staging`.
        await asyncio.to_thread(
            functools.partial(
                STATE.gateway.patch_model_version_status,
                namespace,
                name,
                update.model_dump(by_alias=True, exclude_none=True, mode="json"),
                resource_version=body.get("metadata", {}).get("resourceVersion"),
            )
        )
    if STATE.registry is not None and relevance.rollouts:
        # Our own write wakes only the other Rollouts of the model: the pass that wrote it already
        # saw it, but another Rollout sharing the version must hear a verdict on it (a rejection).
        writer = status.rollout if status is not None and is_echo("ModelVersion", event, namespace, name) else None
        rollouts: kopf.Index[tuple[str, str], str] = kwargs[ROLLOUTS_BY_MODEL]
        for rollout in list(rollouts.get((namespace, spec.model), [])):
            if rollout != writer:
                STATE.registry.wake_existing(namespace, rollout)
