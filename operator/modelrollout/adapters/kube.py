"""Kubernetes I/O behind one small interface: read what a reconcile pass needs, apply its actions.

Every write is idempotent: Deployments and Services by server-side apply with our field
manager, status by replace with the resourceVersion that was read (a conflict means someone
else wrote first; the next pass recomputes), ModelVersion status by merge patch.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, cast

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from modelrollout.adapters.manifests import MODEL_VERSION_ANNOTATION
from modelrollout.api.common import GROUP, VERSION
from modelrollout.api.labels import FIELD_MANAGER, ROLLOUT_LABEL, VERSION_LABEL
from modelrollout.api.modelversion import PLURAL as MODELVERSIONS
from modelrollout.api.rollout import PLURAL as ROLLOUTS
from modelrollout.core.observed import Controller

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class ObservedService:
    name: str
    selector: dict[str, str]
    controller: Controller | None = None


def controller_of(meta: dict[str, Any]) -> Controller | None:
    """The controlling owner reference in an object's metadata, if any."""
    for ref in meta.get("ownerReferences") or []:
        if ref.get("controller"):
            return Controller(kind=str(ref.get("kind", "")), name=str(ref.get("name", "")), uid=str(ref.get("uid", "")))
    return None


class KubeGateway(Protocol):
    """What the reconciler needs from Kubernetes."""

    def get_rollout(self, namespace: str, name: str) -> dict[str, Any] | None: ...
    def list_rollouts(self, namespace: str | None) -> list[dict[str, Any]]: ...
    def list_model_versions(self, namespace: str) -> list[dict[str, Any]]: ...
    def list_deployments(self, namespace: str, rollout: str) -> list[ObservedDeployment]: ...
    def get_services(self, namespace: str, names: list[str]) -> dict[str, ObservedService]: ...
    def get_controller(self, kind: str, namespace: str, name: str) -> tuple[bool, Controller | None]: ...
    def apply(self, manifest: dict[str, Any], *, create: bool = False) -> None: ...
    def scale_deployment(self, namespace: str, name: str, replicas: int) -> None: ...
    def delete_deployment(self, namespace: str, name: str) -> None: ...
    def replace_rollout_status(self, rollout: dict[str, Any], status: dict[str, Any]) -> bool: ...
    def patch_model_version_status(self, namespace: str, name: str, status: dict[str, Any]) -> None: ...
    def emit_event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None: ...
    def read_secret_key(self, namespace: str, name: str, key: str) -> str | None: ...


def load_configuration(kubeconfig: str | None = None, context: str | None = None) -> client.Configuration:
    """A client Configuration from a kubeconfig file, else the in-cluster ServiceAccount, else
    $KUBECONFIG (read now, not when the client library was imported) or ~/.kube/config."""
    configuration = client.Configuration()
    if kubeconfig:
        config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration)  # type: ignore[no-untyped-call]
        return configuration
    try:
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except config.ConfigException:
        files = os.environ.get("KUBECONFIG") or str(Path("~/.kube/config").expanduser())
        config.load_kube_config(config_file=files, context=context, client_configuration=configuration)  # type: ignore[no-untyped-call]
    return configuration


def load_api_client(kubeconfig: str | None = None, context: str | None = None) -> client.ApiClient:
    """An ApiClient from a kubeconfig file, the in-cluster service account, or $KUBECONFIG."""
    return client.ApiClient(load_configuration(kubeconfig, context))


class KubernetesGateway:
    """KubeGateway on the official kubernetes client (synchronous; run it off the event loop)."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.api_client = api_client
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

    def list_deployments(self, namespace: str, rollout: str) -> list[ObservedDeployment]:
        response = self.apps.list_namespaced_deployment(
            namespace, label_selector=f"{ROLLOUT_LABEL}={rollout}", _preload_content=False
        )
        observed: list[ObservedDeployment] = []
        for item in json.loads(cast(Any, response).data)["items"]:
            meta, spec, status = item["metadata"], item.get("spec", {}), item.get("status", {})
            annotations = meta.get("annotations") or {}
            labels = meta.get("labels") or {}
            current = status.get("observedGeneration", 0) >= meta.get("generation", 0)
            # Until the controller has seen the latest spec, readiness may describe old pods.
            ready = min(status.get("readyReplicas", 0), status.get("updatedReplicas", 0)) if current else 0
            observed.append(
                ObservedDeployment(
                    name=meta["name"],
                    model_version=annotations.get(MODEL_VERSION_ANNOTATION, meta["name"]),
                    label=labels.get(VERSION_LABEL, ""),
                    replicas=int(spec.get("replicas", 0)),
                    ready=int(ready),
                    controller=controller_of(meta),
                )
            )
        return observed

    def get_services(self, namespace: str, names: list[str]) -> dict[str, ObservedService]:
        services: dict[str, ObservedService] = {}
        for name in names:
            try:
                response = self.core.read_namespaced_service(name, namespace, _preload_content=False)
            except ApiException as error:
                if error.status == 404:
                    continue
                raise
            body = json.loads(cast(Any, response).data)
            services[name] = ObservedService(
                name=name,
                selector=dict(body.get("spec", {}).get("selector") or {}),
                controller=controller_of(body.get("metadata") or {}),
            )
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

    def apply(self, manifest: dict[str, Any], *, create: bool = False) -> None:
        """Server-side apply: create or update in one idempotent call.

        With `create`, the object must not exist yet: a plain create, which the API server refuses
        when someone else made an object of that name since the pass looked (apply would adopt it).
        The next pass then sees that object and reports it instead of writing.
        """
        meta = manifest["metadata"]
        if create:
            creators: dict[str, Callable[..., Any]] = {
                "Deployment": self.apps.create_namespaced_deployment,
                "Service": self.core.create_namespaced_service,
            }
            try:
                creators[manifest["kind"]](meta["namespace"], manifest, field_manager=FIELD_MANAGER)
            except ApiException as error:
                if error.status != 409:
                    raise
                log.warning(
                    "%s %s/%s appeared before it was created; not adopting it",
                    manifest["kind"],
                    meta["namespace"],
                    meta["name"],
                )
            return
        kwargs: dict[str, Any] = {
            "field_manager": FIELD_MANAGER,
            "force": True,
            "_content_type": APPLY_CONTENT_TYPE,
        }
        if manifest["kind"] == "Deployment":
            self.apps.patch_namespaced_deployment(meta["name"], meta["namespace"], manifest, **kwargs)
        elif manifest["kind"] == "Service":
            self.core.patch_namespaced_service(meta["name"], meta["namespace"], manifest, **kwargs)
        else:
            raise ValueError(f"cannot apply kind {manifest['kind']}")

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

    def replace_rollout_status(self, rollout: dict[str, Any], status: dict[str, Any]) -> bool:
        """Write status guarded by the resourceVersion read; False on a conflict."""
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
            self.custom.replace_namespaced_custom_object_status(
                GROUP, VERSION, meta["namespace"], ROLLOUTS, meta["name"], body, field_manager=FIELD_MANAGER
            )
        except ApiException as error:
            if error.status in (404, 409):
                return False
            raise
        return True

    def patch_model_version_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        try:
            self.custom.patch_namespaced_custom_object_status(
                GROUP,
                VERSION,
                namespace,
                MODELVERSIONS,
                name,
                {"status": status},
                field_manager=FIELD_MANAGER,
                _content_type=MERGE_CONTENT_TYPE,
            )
        except ApiException as error:
            if error.status != 404:
                raise

    def emit_event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """A core/v1 Event on `obj`; failures are logged, never fatal (events are informational)."""
        meta = obj["metadata"]
        now = datetime.now(UTC)
        event = client.CoreV1Event(
            metadata=client.V1ObjectMeta(generate_name=f"{meta['name']}.", namespace=meta["namespace"]),
            involved_object=client.V1ObjectReference(
                api_version=obj.get("apiVersion"),
                kind=obj.get("kind"),
                name=meta["name"],
                namespace=meta["namespace"],
                uid=meta.get("uid"),
                resource_version=meta.get("resourceVersion"),
            ),
            reason=reason,
            message=message[:1024],
            type=type_,
            source=client.V1EventSource(component="modelrollout"),
            reporting_component="modelrollout.io/operator",
            reporting_instance="modelrollout",
            first_timestamp=now,
            last_timestamp=now,
            count=1,
        )
        try:
            self.core.create_namespaced_event(meta["namespace"], event)
        except ApiException as error:
            log.warning("could not post event %s on %s: %s", reason, meta["name"], error.reason)
