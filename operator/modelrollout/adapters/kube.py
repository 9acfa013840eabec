"""Kubernetes I/O behind one small interface: read what a reconcile pass needs, apply its actions.

Every write is idempotent: Deployments and Services by server-side apply with our field
manager, status by replace with the resourceVersion that was read (a conflict means someone
else wrote first; the next pass recomputes), ModelVersion status by merge patch.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, cast

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException as ApiException  # re-exported for handlers
from pydantic import ValidationError

from modelrollout.adapters.manifests import MODEL_VERSION_ANNOTATION
from modelrollout.api.common import GROUP, VERSION
from modelrollout.api.labels import FIELD_MANAGER, ROLLOUT_LABEL, VERSION_LABEL
from modelrollout.api.modelversion import PLURAL as MODELVERSIONS
from modelrollout.api.modelversion import ModelVersion
from modelrollout.api.rollout import PLURAL as ROLLOUTS
from modelrollout.core.observed import Controller

log = logging.getLogger(__name__)

# Events remembered for de-duplication (the least recently posted are forgotten first).
POSTED_EVENTS_KEPT = 10_000
EventKey = tuple[str, str, str, str, str]  # namespace, object uid, type, reason, message

APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
MERGE_CONTENT_TYPE = "application/merge-patch+json"


@dataclass(frozen=True)
class ObservedDeployment:
    name: str
    model_version: str
    label: str
    replicas: int
    ready: int
    controller: Controller | None = None
    rollout: str | None = None  # the modelrollout.io/rollout label
    resource_version: str = ""
    images: tuple[tuple[str, str], ...] = ()  # (container, image) of the pod template


def template_images(deployment: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The (container name, image) pairs of a Deployment's pod template, init containers included."""
    pod = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]
    return tuple(sorted((str(c.get("name", "")), str(c.get("image", ""))) for c in containers))


@dataclass(frozen=True)
class ObservedService:
    name: str
    selector: dict[str, str]
    controller: Controller | None = None
    resource_version: str = ""


def api_error_message(error: ApiException) -> str:
    """The API server's own words for a refused request (its Status message), with the HTTP code."""
    message = ""
    with contextlib.suppress(TypeError, ValueError, AttributeError):
        message = str(json.loads(error.body or "{}").get("message", ""))
    return f"{message or error.reason} (HTTP {error.status})"


def controller_of(meta: dict[str, Any]) -> Controller | None:
    """The controlling owner reference in an object's metadata, if any."""
    for ref in meta.get("ownerReferences") or []:
        if ref.get("controller"):
            return Controller(kind=str(ref.get("kind", "")), name=str(ref.get("name", "")), uid=str(ref.get("uid", "")))
    return None


def observed_deployment(item: dict[str, Any]) -> ObservedDeployment:
    """A Deployment object reduced to what decisions need."""
    meta, spec, status = item["metadata"], item.get("spec") or {}, item.get("status") or {}
    annotations = meta.get("annotations") or {}
    labels = meta.get("labels") or {}
    # Ready pods of the current template. Every pod of this Deployment serves the same version
    # (the name and the pod labels carry it), so while the controller has not yet seen a new spec
    # (our own scale change, read back at once from the write or its watch echo) its ready pods
    # still serve that version: counting none would pull traffic off a version that has them.
    ready = min(status.get("readyReplicas", 0), status.get("updatedReplicas", 0), int(spec.get("replicas", 0)))
    return ObservedDeployment(
        name=meta["name"],
        model_version=annotations.get(MODEL_VERSION_ANNOTATION, meta["name"]),
        label=labels.get(VERSION_LABEL, ""),
        replicas=int(spec.get("replicas", 0)),
        ready=int(ready),
        controller=controller_of(meta),
        rollout=labels.get(ROLLOUT_LABEL),
        resource_version=str(meta.get("resourceVersion", "")),
        images=template_images(item),
    )


def observed_service(item: dict[str, Any]) -> ObservedService:
    """A Service object reduced to its selector and controller."""
    meta = item.get("metadata") or {}
    return ObservedService(
        name=meta["name"],
        selector=dict((item.get("spec") or {}).get("selector") or {}),
        controller=controller_of(meta),
        resource_version=str(meta.get("resourceVersion", "")),
    )


def parse_model_versions(items: Iterable[dict[str, Any]]) -> dict[str, ModelVersion]:
    """The ModelVersions among `items` that parse (admission already validated them)."""
    versions: dict[str, ModelVersion] = {}
    for raw in items:
        try:
            versions[raw["metadata"]["name"]] = ModelVersion.model_validate(raw)
        except ValidationError as error:
            log.warning(
                "ModelVersion %s/%s unreadable: %s", raw["metadata"].get("namespace"), raw["metadata"]["name"], error
            )
    return versions


class KubeReader(Protocol):
    """What a reconcile pass reads: from the API server, or from watch-fed caches."""

    def get_rollout(self, namespace: str, name: str) -> dict[str, Any] | None: ...
    def model_versions(self, namespace: str, model: str, names: Iterable[str]) -> dict[str, ModelVersion]:
        """Every readable ModelVersion of `model`, and those of `names` (whatever their model)."""
        ...

    def list_deployments(self, namespace: str, rollout: str) -> list[ObservedDeployment]: ...
    def get_services(self, namespace: str, names: list[str]) -> dict[str, ObservedService]: ...
    def get_controller(self, kind: str, namespace: str, name: str) -> tuple[bool, Controller | None]: ...


class KubeWriter(Protocol):
    """What a reconcile pass writes. Writes return the object as the API server stored it."""

    def apply(self, manifest: dict[str, Any], dry_run: bool = False, *, create: bool = False) -> dict[str, Any]: ...
    def scale_deployment(self, namespace: str, name: str, replicas: int) -> None: ...
    def delete_deployment(self, namespace: str, name: str) -> None: ...
    def replace_rollout_status(self, rollout: dict[str, Any], status: dict[str, Any]) -> dict[str, Any] | None: ...
    def patch_model_version_status(
        self, namespace: str, name: str, status: dict[str, Any], *, resource_version: str | None = None
    ) -> dict[str, Any] | None: ...
    def emit_event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None: ...
    def read_secret_key(self, namespace: str, name: str, key: str) -> str | None: ...


class KubeGateway(KubeReader, KubeWriter, Protocol):
    """Reads and writes straight against the API server."""

    def list_rollouts(self, namespace: str | None) -> list[dict[str, Any]]: ...
    def list_model_versions(self, namespace: str) -> list[dict[str, Any]]: ...


def load_configuration(
    kubeconfig: str | None = None, context: str | None = None, pool_size: int | None = None
) -> client.Configuration:
    """A client Configuration from a kubeconfig file, else the in-cluster ServiceAccount, else
    $KUBECONFIG (read now, not when the client library was imported) or ~/.kube/config.

    `pool_size` should be at least the number of threads sharing the client: urllib3 otherwise
    opens and drops extra connections ("Connection pool is full") under load.
    """
    configuration = client.Configuration()
    if pool_size is not None:
        configuration.connection_pool_maxsize = pool_size
    if kubeconfig:
        config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration)  # type: ignore[no-untyped-call]
        return configuration
    try:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except config.ConfigException:
        files = os.environ.get("KUBECONFIG") or str(Path("~/.kube/config").expanduser())
        config.load_kube_config(config_file=files, context=context, client_configuration=configuration)  # type: ignore[no-untyped-call]
    return configuration


def load_api_client(
    kubeconfig: str | None = None, context: str | None = None, pool_size: int | None = None
) -> client.ApiClient:
    """An ApiClient from a kubeconfig file, the in-cluster service account, or $KUBECONFIG."""
    return client.ApiClient(load_configuration(kubeconfig, context, pool_size))


class KubernetesGateway:
    """KubeGateway on the official kubernetes client (synchronous; run it off the event loop)."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.api_client = api_client
        self.posted_events: OrderedDict[EventKey, tuple[str, int]] = OrderedDict()
        self.events_lock = threading.Lock()
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)

    # ---------------------------------------------------------------- reads

    def get_rollout(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            result = cast(
                dict[str, Any],
                self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, ROLLOUTS, name),
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return result

    def list_rollouts(self, namespace: str | None) -> list[dict[str, Any]]:
        if namespace:
            listing = self.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, ROLLOUTS)
        else:
            listing = self.custom.list_cluster_custom_object(GROUP, VERSION, ROLLOUTS)
        return list(cast(dict[str, Any], listing).get("items", []))

    def list_model_versions(self, namespace: str) -> list[dict[str, Any]]:
        listing = self.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, MODELVERSIONS)
        return list(cast(dict[str, Any], listing).get("items", []))

    def model_versions(self, namespace: str, model: str, names: Iterable[str]) -> dict[str, ModelVersion]:
        versions = parse_model_versions(self.list_model_versions(namespace))
        wanted = set(names)
        return {n: v for n, v in versions.items() if v.spec.model == model or n in wanted}

    def list_deployments(self, namespace: str, rollout: str) -> list[ObservedDeployment]:
        response = self.apps.list_namespaced_deployment(
            namespace, label_selector=f"{ROLLOUT_LABEL}={rollout}", _preload_content=False
        )
        return [observed_deployment(item) for item in json.loads(cast(Any, response).data)["items"]]

    def get_services(self, namespace: str, names: list[str]) -> dict[str, ObservedService]:
        services: dict[str, ObservedService] = {}
        for name in names:
            try:
                response = self.core.read_namespaced_service(name, namespace, _preload_content=False)
            except ApiException as error:
                if error.status == 404:
                    continue
                raise
            services[name] = observed_service(json.loads(cast(Any, response).data))
        return services

    def get_controller(self, kind: str, namespace: str, name: str) -> tuple[bool, Controller | None]:
        """Whether an object of `kind` exists under `name`, and its controlling owner."""
        readers = {"Deployment": self.apps.read_namespaced_deployment, "Service": self.core.read_namespaced_service}
        try:
            response = readers[kind](name, namespace, _preload_content=False)
        except ApiException as error:
            if error.status == 404:
                return False, None
            raise
        return True, controller_of(json.loads(cast(Any, response).data).get("metadata") or {})

    def read_secret_key(self, namespace: str, name: str, key: str) -> str | None:
        try:
            secret = self.core.read_namespaced_secret(name, namespace)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        value = (secret.data or {}).get(key)
        return base64.b64decode(value).decode().strip() if value else None

    # ---------------------------------------------------------------- writes

    def apply(self, manifest: dict[str, Any], dry_run: bool = False, *, create: bool = False) -> dict[str, Any]:
        """Server-side apply: create or update in one idempotent call; returns the stored object.

        With `dry_run` the API server validates and admits the object but stores nothing. With
        `create`, the object must not exist yet: a plain create, which the API server refuses (409)
        when someone else made an object of that name since the pass looked (apply would adopt it);
        the next pass then sees that object and reports it instead of writing.
        """
        meta = manifest["metadata"]
        if create and not dry_run:
            creators: dict[str, Callable[..., Any]] = {
                "Deployment": self.apps.create_namespaced_deployment,
                "Service": self.core.create_namespaced_service,
            }
            created = creators[manifest["kind"]](
                meta["namespace"], manifest, field_manager=FIELD_MANAGER, _preload_content=False
            )
            return cast(dict[str, Any], json.loads(created.data))
        kwargs: dict[str, Any] = {
            "field_manager": FIELD_MANAGER,
            "force": True,
            "_content_type": APPLY_CONTENT_TYPE,
            "_preload_content": False,
        }
        if dry_run:
            kwargs["dry_run"] = "All"
        response: Any
        if manifest["kind"] == "Deployment":
            response = self.apps.patch_namespaced_deployment(meta["name"], meta["namespace"], manifest, **kwargs)
        elif manifest["kind"] == "Service":
            response = self.core.patch_namespaced_service(meta["name"], meta["namespace"], manifest, **kwargs)
        else:
            raise ValueError(f"cannot apply kind {manifest['kind']}")
        return cast(dict[str, Any], json.loads(response.data))

    def scale_deployment(self, namespace: str, name: str, replicas: int) -> None:
        """Scale a Deployment whose ModelVersion is gone (no template to apply)."""
        try:
            self.apps.patch_namespaced_deployment_scale(
                name, namespace, {"spec": {"replicas": replicas}}, field_manager=FIELD_MANAGER
            )
        except ApiException as error:
            if error.status != 404:
                raise

    def delete_deployment(self, namespace: str, name: str) -> None:
        """Delete a Deployment the Rollout owns (the caller checked it has no replicas left)."""
        try:
            self.apps.delete_namespaced_deployment(name, namespace, propagation_policy="Background")
        except ApiException as error:
            if error.status != 404:
                raise

    def replace_rollout_status(self, rollout: dict[str, Any], status: dict[str, Any]) -> dict[str, Any] | None:
        """Write status guarded by the resourceVersion read; the stored Rollout, or None on a conflict."""
        meta = rollout["metadata"]
        body = {
            "apiVersion": rollout["apiVersion"],
            "kind": rollout["kind"],
            "metadata": {
                "name": meta["name"],
                "namespace": meta["namespace"],
                "resourceVersion": meta["resourceVersion"],
            },
            "spec": rollout["spec"],
            "status": status,
        }
        try:
            stored = self.custom.replace_namespaced_custom_object_status(
                GROUP, VERSION, meta["namespace"], ROLLOUTS, meta["name"], body, field_manager=FIELD_MANAGER
            )
        except ApiException as error:
            if error.status in (404, 409):
                return None
            raise
        return cast(dict[str, Any], stored)

    def patch_model_version_status(
        self, namespace: str, name: str, status: dict[str, Any], *, resource_version: str | None = None
    ) -> dict[str, Any] | None:
        """Merge-patch status. With `resource_version`, only if the object is still that version: a
        write computed from an older view (a late watch event) must not undo a newer one."""
        body: dict[str, Any] = {"status": status}
        if resource_version is not None:
            body["metadata"] = {"resourceVersion": resource_version}
        try:
            stored = self.custom.patch_namespaced_custom_object_status(
                GROUP,
                VERSION,
                namespace,
                MODELVERSIONS,
                name,
                body,
                field_manager=FIELD_MANAGER,
                _content_type=MERGE_CONTENT_TYPE,
            )
        except ApiException as error:
            if error.status == 409 and resource_version is not None:
                return None  # changed since: the event of that change decides again
            if error.status != 404:
                raise
            return None
        return cast(dict[str, Any], stored)

    def emit_event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """A core/v1 Event on `obj`; failures are logged, never fatal (events are informational).

        The same Event again (same object, type, reason and message) raises the count and
        lastTimestamp of the one already posted, as client-go's event correlator does.
        """
        meta = obj["metadata"]
        namespace = meta["namespace"]
        message = message[:1024]
        now = datetime.now(UTC)
        key = (namespace, str(meta.get("uid", meta["name"])), type_, reason, message)
        with self.events_lock:
            seen = self.posted_events.pop(key, None)
        try:
            if seen is not None:
                name, count = seen
                # metav1.Time: whole seconds
                patch = {"count": count + 1, "lastTimestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
                try:
                    self.core.patch_namespaced_event(name, namespace, patch)
                    self.remember_event(key, name, count + 1)
                    return
                except ApiException as error:
                    if error.status != 404:  # expired (1 h by default): post it afresh
                        raise
            event = client.CoreV1Event(
                metadata=client.V1ObjectMeta(generate_name=f"{meta['name']}.", namespace=namespace),
                involved_object=client.V1ObjectReference(
                    api_version=obj.get("apiVersion"),
                    kind=obj.get("kind"),
                    name=meta["name"],
                    namespace=namespace,
                    uid=meta.get("uid"),
                    resource_version=meta.get("resourceVersion"),
                ),
                reason=reason,
                message=message,
                type=type_,
                source=client.V1EventSource(component="modelrollout"),
                reporting_component="modelrollout.io/operator",
                reporting_instance="modelrollout",
                first_timestamp=now,
                last_timestamp=now,
                count=1,
            )
            created = self.core.create_namespaced_event(namespace, event)
            self.remember_event(key, str(created.metadata.name), 1)
        except ApiException as error:
            log.warning("could not post event %s on %s: %s", reason, meta["name"], error.reason)

    def remember_event(self, key: EventKey, name: str, count: int) -> None:
        with self.events_lock:
            self.posted_events[key] = (name, count)
            while len(self.posted_events) > POSTED_EVENTS_KEPT:
                self.posted_events.popitem(last=False)  # the least recently posted
