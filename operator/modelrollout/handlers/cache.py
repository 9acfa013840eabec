"""Watch-fed caches: what a reconcile pass reads, without a LIST or GET per pass.

kopf indexes hold every Rollout, ModelVersion, Deployment and Service the operator watches,
reduced to what decisions need (so memory stays small at thousands of objects). kopf runs no
other handler before every index has its initial listing, so a pass never sees a half-filled
cache and never mistakes a missing entry for an absent object.

A watch event arrives a little after the write that caused it. So that the pass right after
a write does not act on what it just replaced (repeating an Event, re-applying a Deployment),
the objects the API server returned for our own writes are kept as an overlay until the watch
delivers them, or something newer, or their deletion.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import kopf

from modelrollout.adapters.kube import (
    KubeWriter,
    ObservedDeployment,
    ObservedService,
    observed_deployment,
    observed_service,
    parse_model_versions,
)
from modelrollout.api.common import GROUP, VERSION
from modelrollout.api.labels import ROLLOUT_LABEL
from modelrollout.api.modelversion import ModelVersion
from modelrollout.core.observed import Controller

# An overlay entry the watch never confirms (a lost event) stops shadowing the cache after this.
OVERLAY_SECONDS = 30.0

Key = tuple[str, str]
T = TypeVar("T")

# Index names: kopf passes each index to handlers as a keyword argument of that name.
ROLLOUTS = "rollouts_by_name"
ROLLOUTS_BY_MODEL = "rollouts_by_model"
VERSIONS = "model_versions_by_name"
VERSIONS_BY_MODEL = "model_versions_by_model"
DEPLOYMENTS = "deployments_by_name"
DEPLOYMENTS_BY_ROLLOUT = "deployments_by_rollout"
SERVICES = "services_by_name"
INDEXES = (ROLLOUTS, ROLLOUTS_BY_MODEL, VERSIONS, VERSIONS_BY_MODEL, DEPLOYMENTS, DEPLOYMENTS_BY_ROLLOUT, SERVICES)


@kopf.index(GROUP, VERSION, "rollouts")
def rollouts_by_name(namespace: str | None, name: str, body: kopf.Body, **_: Any) -> dict[Key, dict[str, Any]]:
    return {(namespace or "", name): dict(body)}


@kopf.index(GROUP, VERSION, "rollouts")
def rollouts_by_model(namespace: str | None, name: str, spec: kopf.Spec, **_: Any) -> dict[Key, str]:
    model = spec.get("model")
    return {(namespace or "", str(model)): name} if model else {}


@kopf.index(GROUP, VERSION, "modelversions")
def model_versions_by_name(namespace: str | None, name: str, body: kopf.Body, **_: Any) -> dict[Key, ModelVersion]:
    # Parsed once per change of the object, not once per pass of every Rollout that reads it.
    parsed = parse_model_versions([dict(body)])
    return {(namespace or "", name): parsed[name]} if name in parsed else {}


@kopf.index(GROUP, VERSION, "modelversions")
def model_versions_by_model(namespace: str | None, name: str, spec: kopf.Spec, **_: Any) -> dict[Key, str]:
    model = spec.get("model")
    return {(namespace or "", str(model)): name} if model else {}


@kopf.index("apps", "v1", "deployments")
def deployments_by_name(namespace: str | None, name: str, body: kopf.Body, **_: Any) -> dict[Key, ObservedDeployment]:
    # Every Deployment, labelled or not: one under a name a Rollout is about to use must be seen.
    return {(namespace or "", name): observed_deployment(dict(body))}


@kopf.index("apps", "v1", "deployments", labels={ROLLOUT_LABEL: kopf.PRESENT})
def deployments_by_rollout(
    namespace: str | None, labels: kopf.Labels, body: kopf.Body, **_: Any
) -> dict[Key, ObservedDeployment]:
    return {(namespace or "", labels[ROLLOUT_LABEL]): observed_deployment(dict(body))}


@kopf.index("", "v1", "services")
def services_by_name(namespace: str | None, name: str, body: kopf.Body, **_: Any) -> dict[Key, ObservedService]:
    return {(namespace or "", name): observed_service(dict(body))}


def newer(candidate: str, than: str) -> bool:
    """Whether resourceVersion `candidate` is newer. They are etcd revisions in practice; when one
    does not parse, the watch's copy wins."""
    try:
        return int(candidate) > int(than)
    except ValueError:
        return False


@dataclass(frozen=True)
class OverlayEntry:
    resource_version: str
    value: Any
    at: float


def first(index: Mapping[Key, Any], key: Key) -> Any:
    """The one value stored under `key` (keys that name one object hold one value), or None."""
    store = index.get(key)
    values = list(store) if store is not None else []
    return values[0] if values else None


class ClusterCache:
    """KubeReader over kopf indexes plus the overlay of our own writes.

    Reads happen in reconcile threads while the event loop updates the indexes; each read is a
    single dict lookup or a copy of a small store, which the GIL makes atomic.
    """

    def __init__(self, indexes: Mapping[str, Mapping[Key, Any]]) -> None:
        self.indexes = indexes
        self.lock = threading.Lock()
        self.overlay: dict[tuple[str, str, str], OverlayEntry] = {}
        # Deployments we created that the watch has not delivered yet, by (namespace, rollout).
        self.created: dict[Key, set[str]] = {}

    # ---------------------------------------------------------------- overlay

    def remember(self, kind: str, namespace: str, name: str, resource_version: str, value: Any) -> None:
        with self.lock:
            self.overlay[(kind, namespace, name)] = OverlayEntry(resource_version, value, time.monotonic())

    def forget(self, kind: str, namespace: str, name: str) -> None:
        with self.lock:
            self.overlay.pop((kind, namespace, name), None)

    def is_echo(self, kind: str, namespace: str, name: str, resource_version: str) -> bool:
        """Whether a watch event only reports our own last write (no one else changed anything)."""
        with self.lock:
            entry = self.overlay.get((kind, namespace, name))
        return entry is not None and entry.resource_version == resource_version

    def pick(self, kind: str, namespace: str, name: str, cached: T | None, cached_version: str) -> T | None:
        """The newer of the watch's copy and our own write's."""
        key = (kind, namespace, name)
        with self.lock:
            entry = self.overlay.get(key)
            if entry is None:
                return cached
            expired = time.monotonic() - entry.at > OVERLAY_SECONDS
            if expired or (cached is not None and not newer(entry.resource_version, cached_version)):
                del self.overlay[key]  # the watch caught up
                return cached
        return entry.value  # type: ignore[no-any-return]

    # ---------------------------------------------------------------- KubeReader

    def get_rollout(self, namespace: str, name: str) -> dict[str, Any] | None:
        cached: dict[str, Any] | None = first(self.indexes[ROLLOUTS], (namespace, name))
        version = str((cached or {}).get("metadata", {}).get("resourceVersion", ""))
        return self.pick("Rollout", namespace, name, cached, version)

    def model_versions(self, namespace: str, model: str, names: Iterable[str]) -> dict[str, ModelVersion]:
        store = self.indexes[VERSIONS_BY_MODEL].get((namespace, model))
        wanted = dict.fromkeys([*(list(store) if store is not None else []), *names])
        versions: dict[str, ModelVersion] = {}
        for name in wanted:
            cached: ModelVersion | None = first(self.indexes[VERSIONS], (namespace, name))
            version = str(cached.metadata.get("resourceVersion", "")) if cached else ""
            picked = self.pick("ModelVersion", namespace, name, cached, version)
            if picked is not None:
                versions[name] = picked
        return versions

    def list_deployments(self, namespace: str, rollout: str) -> list[ObservedDeployment]:
        store = self.indexes[DEPLOYMENTS_BY_ROLLOUT].get((namespace, rollout))
        listed = {d.name: d for d in (list(store) if store is not None else [])}
        with self.lock:
            created = self.created.get((namespace, rollout), set())
            for name in list(created):
                if name in listed:
                    created.discard(name)
        candidates: dict[str, ObservedDeployment | None] = {**dict.fromkeys(created), **listed}
        result: list[ObservedDeployment] = []
        for name, cached in candidates.items():
            picked = self.pick("Deployment", namespace, name, cached, cached.resource_version if cached else "")
            if picked is not None and picked.rollout == rollout:
                result.append(picked)
            elif cached is None:
                with self.lock:
                    created.discard(name)  # its overlay is gone: the watch will tell
        return result

    def deployment(self, namespace: str, name: str) -> ObservedDeployment | None:
        cached: ObservedDeployment | None = first(self.indexes[DEPLOYMENTS], (namespace, name))
        return self.pick("Deployment", namespace, name, cached, cached.resource_version if cached else "")

    def get_services(self, namespace: str, names: list[str]) -> dict[str, ObservedService]:
        services: dict[str, ObservedService] = {}
        for name in names:
            cached: ObservedService | None = first(self.indexes[SERVICES], (namespace, name))
            picked = self.pick("Service", namespace, name, cached, cached.resource_version if cached else "")
            if picked is not None:
                services[name] = picked
        return services

    def get_controller(self, kind: str, namespace: str, name: str) -> tuple[bool, Controller | None]:
        found: ObservedDeployment | ObservedService | None
        if kind == "Deployment":
            found = self.deployment(namespace, name)
        else:
            found = self.get_services(namespace, [name]).get(name)
        return (found is not None, found.controller if found is not None else None)


class WriteThrough:
    """KubeWriter that feeds what the API server returned for each write into the cache's overlay."""

    def __init__(self, writer: KubeWriter, cache: ClusterCache) -> None:
        self.writer = writer
        self.cache = cache

    def apply(self, manifest: dict[str, Any], dry_run: bool = False, *, create: bool = False) -> dict[str, Any]:
        stored = self.writer.apply(manifest, dry_run, create=create)
        if dry_run:
            return stored
        meta = stored.get("metadata") or {}
        version = str(meta.get("resourceVersion", ""))
        if stored.get("kind", manifest["kind"]) == "Deployment":
            deployment = observed_deployment(stored)
            self.cache.remember("Deployment", meta["namespace"], meta["name"], version, deployment)
            if deployment.rollout:
                with self.cache.lock:
                    self.cache.created.setdefault((meta["namespace"], deployment.rollout), set()).add(meta["name"])
        else:
            self.cache.remember("Service", meta["namespace"], meta["name"], version, observed_service(stored))
        return stored

    def scale_deployment(self, namespace: str, name: str, replicas: int) -> None:
        self.writer.scale_deployment(namespace, name, replicas)

    def delete_deployment(self, namespace: str, name: str) -> None:
        self.writer.delete_deployment(namespace, name)

    def replace_rollout_status(self, rollout: dict[str, Any], status: dict[str, Any]) -> dict[str, Any] | None:
        stored = self.writer.replace_rollout_status(rollout, status)
        if stored is not None:
            meta = stored["metadata"]
            self.cache.remember("Rollout", meta["namespace"], meta["name"], str(meta["resourceVersion"]), stored)
        return stored

    def patch_model_version_status(
        self, namespace: str, name: str, status: dict[str, Any], *, resource_version: str | None = None
    ) -> dict[str, Any] | None:
        stored = self.writer.patch_model_version_status(namespace, name, status, resource_version=resource_version)
        parsed = parse_model_versions([stored]) if stored is not None else {}
        if stored is not None and name in parsed:
            version = str(stored["metadata"].get("resourceVersion", ""))
            self.cache.remember("ModelVersion", namespace, name, version, parsed[name])
        return stored

    def emit_event(self, obj: dict[str, Any], type_: str, reason: str, message: str) -> None:
        self.writer.emit_event(obj, type_, reason, message)

    def read_secret_key(self, namespace: str, name: str, key: str) -> str | None:
        return self.writer.read_secret_key(namespace, name, key)
