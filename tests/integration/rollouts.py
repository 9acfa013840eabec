"""Helpers for end-to-end tests: build ModelVersions and Rollouts, read what the operator did."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from kubernetes import client, watch

from modelrollout.api.common import GROUP, VERSION
from modelrollout.api.controls import CONTROL_ANNOTATION
from modelrollout.api.labels import ROLLOUT_LABEL, VERSION_LABEL
from modelrollout.devenv import wait_until
from modelrollout.devenv.manifests import bluegreen_rollout, canary_rollout, model_version

T = TypeVar("T")

__all__ = ["Cluster", "bluegreen_rollout", "canary_rollout", "model_version"]


class Cluster:
    """Thin test-side access to the objects of one namespace."""

    def __init__(self, api_client: client.ApiClient, namespace: str) -> None:
        self.namespace = namespace
        self.custom = client.CustomObjectsApi(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.core = client.CoreV1Api(api_client)

    def create(self, obj: dict[str, Any]) -> None:
        plural = {"ModelVersion": "modelversions", "Rollout": "rollouts"}[obj["kind"]]
        self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, obj)

    def rollout(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, "rollouts", name
        )  # type: ignore[assignment]
        return result

    def status(self, name: str) -> dict[str, Any]:
        return self.rollout(name).get("status") or {}

    def model_version_status(self, name: str) -> dict[str, Any]:
        obj: dict[str, Any] = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, "modelversions", name
        )  # type: ignore[assignment]
        return obj.get("status") or {}

    def patch_rollout(self, name: str, patch: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, "rollouts", name, patch)

    def set_target(self, name: str, target: str) -> None:
        self.patch_rollout(name, {"spec": {"targetVersion": target}})

    def control(self, name: str, verb: str, token: str) -> None:
        self.patch_rollout(name, {"metadata": {"annotations": {CONTROL_ANNOTATION: f"{verb}/{token}"}}})

    def replicas(self, rollout: str) -> dict[str, tuple[int, int]]:
        """version label -> (spec.replicas, ready replicas) of the rollout's Deployments."""
        result: dict[str, tuple[int, int]] = {}
        for deployment in self.apps.list_namespaced_deployment(
            self.namespace, label_selector=f"{ROLLOUT_LABEL}={rollout}"
        ).items:
            label = deployment.metadata.labels[VERSION_LABEL]
            result[label] = (deployment.spec.replicas or 0, deployment.status.ready_replicas or 0)
        return result

    def selector(self, service: str) -> dict[str, str] | None:
        try:
            return dict(self.core.read_namespaced_service(service, self.namespace).spec.selector or {})
        except client.ApiException as error:
            if error.status == 404:
                return None
            raise

    def selected_version(self, service: str) -> str | None:
        selector = self.selector(service)
        return None if selector is None else selector.get(VERSION_LABEL, "*")

    def events(self, name: str) -> list[str]:
        """ "reason: message" of the Events on `name`, oldest first (by etcd revision)."""
        events = self.core.list_namespaced_event(self.namespace, field_selector=f"involvedObject.name={name}")
        ordered = sorted(events.items, key=lambda e: int(e.metadata.resource_version))
        return [f"{e.reason}: {e.message}" for e in ordered]

    def reasons(self, name: str) -> list[str]:
        """The reasons of the Events on `name`, oldest first."""
        return [event.split(":", 1)[0] for event in self.events(name)]

    def occurrences(self, name: str, reason: str) -> int:
        """How often an Event of `reason` happened on `name` (a repeated Event is counted, not posted again)."""
        events = self.core.list_namespaced_event(self.namespace, field_selector=f"involvedObject.name={name}")
        return sum(e.count or 1 for e in events.items if e.reason == reason)

    def deployment_names(self) -> list[str]:
        return sorted(d.metadata.name for d in self.apps.list_namespaced_deployment(self.namespace).items)

    def service_names(self) -> list[str]:
        return sorted(s.metadata.name for s in self.core.list_namespaced_service(self.namespace).items)

    def condition(self, name: str, type_: str) -> dict[str, Any] | None:
        for condition in self.status(name).get("conditions") or []:
            if condition.get("type") == type_:
                return dict(condition)
        return None

    def history(self, name: str) -> list[tuple[str, str]]:
        """(version, outcome) of status.history, oldest first."""
        return [(entry["version"], entry["outcome"]) for entry in self.status(name).get("history") or []]

    def hold(self, check: Callable[[], bool], what: str, seconds: float) -> int:
        """Asserts that `check` stays true for `seconds` (a negative can only be watched for a
        while); returns how many times it was checked."""
        deadline = time.monotonic() + seconds
        checks = 0
        while True:
            assert check(), f"{what} stopped holding after {checks} checks"
            checks += 1
            if time.monotonic() >= deadline:
                return checks
            time.sleep(0.2)

    def wait(self, check: Callable[[], T | None], what: str, timeout: float = 60) -> T:
        return wait_until(check, timeout=timeout, what=what, interval=0.2)

    def wait_status(
        self, name: str, what: str, predicate: Callable[[dict[str, Any]], bool], timeout: float = 60
    ) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            status = self.status(name)
            return status if predicate(status) else None

        try:
            return self.wait(check, what, timeout)
        except Exception as error:
            raise AssertionError(f"{what}; last status: {self.status(name)}; cluster: {self.describe(name)}") from error

    def describe(self, rollout: str) -> str:
        """Replica counts and Service selectors of a rollout, for failure messages."""
        deployments = {
            d.metadata.name: {
                "spec": d.spec.replicas,
                "generation": d.metadata.generation,
                "observedGeneration": d.status.observed_generation,
                "ready": d.status.ready_replicas,
                "updated": d.status.updated_replicas,
            }
            for d in self.apps.list_namespaced_deployment(
                self.namespace, label_selector=f"{ROLLOUT_LABEL}={rollout}"
            ).items
        }
        selectors = {name: self.selected_version(name) for name in (rollout, f"{rollout}-preview", f"{rollout}-canary")}
        return f"deployments {deployments}, services {selectors}"


# ---------------------------------------------------------------------------------- node gate


class NodeGate:
    """Holds a version's pods Pending until `open()`: its pod template selects a node label
    that no node has yet, and `open()` puts that label on the kwok nodes.

    kwok makes pods ready almost at once; a gated ModelVersion lets a test stop a rollout
    mid-step (replicas requested, none ready) for as long as it wants.
    """

    def __init__(self, api_client: client.ApiClient, namespace: str) -> None:
        self.core = client.CoreV1Api(api_client)
        self.key = f"modelrollout-test/gate-{namespace}"[:63]
        self.opened = False

    @property
    def node_selector(self) -> dict[str, str]:
        return {self.key: "open"}

    def template(self, model: str, version: str) -> dict[str, Any]:
        """A ModelVersion `template` whose pods wait for this gate."""
        return {
            "spec": {
                "nodeSelector": self.node_selector,
                "containers": [{"name": "server", "image": f"example.com/{model}-server:{version}"}],
            }
        }

    def _label_nodes(self, value: str | None) -> None:
        for node in self.core.list_node(label_selector="type=kwok").items:
            self.core.patch_node(node.metadata.name, {"metadata": {"labels": {self.key: value}}})

    def open(self) -> None:
        self._label_nodes("open")
        self.opened = True

    def close(self) -> None:
        """Removes the label again (pods already scheduled stay where they are)."""
        self._label_nodes(None)
        self.opened = False


# ---------------------------------------------------------------------------------- timeline


@dataclass(frozen=True)
class Change:
    """One watch event, ordered by its resourceVersion (etcd's global revision)."""

    revision: int
    kind: str  # Service, Pod, Deployment, Rollout
    type: str  # ADDED, MODIFIED, DELETED
    obj: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])


@dataclass(frozen=True)
class Violation:
    revision: int
    service: str
    selector: dict[str, str]
    ready_pods: dict[str, int]  # version label -> ready pods of the rollout at that moment

    def __str__(self) -> str:
        return (
            f"at revision {self.revision}: Service {self.service} selects {self.selector}"
            f" with no ready pod (ready pods by version: {self.ready_pods})"
        )


def pod_ready(pod: dict[str, Any]) -> bool:
    """Ready and not terminating: what an EndpointSlice counts as ready."""
    if pod["metadata"].get("deletionTimestamp"):
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


class Timeline:
    """Watches the Services, Pods, Deployments and Rollouts of a namespace from background threads.

    Every write to etcd gets the next global revision, which Kubernetes reports as the object's
    resourceVersion, so the events of all four watches merge into one exact order. Replaying
    them shows every state the cluster went through, including ones no poll would catch: a
    Service selecting a version at a moment when none of that version's pods were ready.
    """

    KINDS = ("Service", "Pod", "Deployment", "Rollout")

    def __init__(self, api_client: client.ApiClient, namespace: str) -> None:
        self.namespace = namespace
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.changes: list[Change] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.last_revision: dict[str, int] = dict.fromkeys(self.KINDS, 0)

    # ------------------------------------------------------------------ watching

    def _list(self, kind: str, **kwargs: Any) -> Any:
        if kind == "Service":
            return self.core.list_namespaced_service(self.namespace, **kwargs)
        if kind == "Pod":
            return self.core.list_namespaced_pod(self.namespace, **kwargs)
        if kind == "Deployment":
            return self.apps.list_namespaced_deployment(self.namespace, **kwargs)
        return self.custom.list_namespaced_custom_object(GROUP, VERSION, self.namespace, "rollouts", **kwargs)

    def _list_function(self, kind: str) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        if kind == "Service":
            return self.core.list_namespaced_service, (self.namespace,)
        if kind == "Pod":
            return self.core.list_namespaced_pod, (self.namespace,)
        if kind == "Deployment":
            return self.apps.list_namespaced_deployment, (self.namespace,)
        return self.custom.list_namespaced_custom_object, (GROUP, VERSION, self.namespace, "rollouts")

    def _raw_list(self, kind: str) -> dict[str, Any]:
        response = self._list(kind, _preload_content=False)
        result: dict[str, Any] = json.loads(response.data)
        return result

    def _record(self, kind: str, type_: str, obj: dict[str, Any]) -> None:
        revision = int(obj["metadata"]["resourceVersion"])
        with self.lock:
            self.changes.append(Change(revision, kind, type_, obj))
            self.last_revision[kind] = max(self.last_revision[kind], revision)

    def _watch(self, kind: str, resource_version: str) -> None:
        func, args = self._list_function(kind)
        while not self.stopping.is_set():
            watcher = watch.Watch()
            try:
                for event in watcher.stream(
                    func, *args, resource_version=resource_version, timeout_seconds=1, deserialize=False
                ):
                    obj = event["object"]
                    if event["type"] == "BOOKMARK":
                        resource_version = obj["metadata"]["resourceVersion"]
                        continue
                    self._record(kind, event["type"], obj)
                    resource_version = obj["metadata"]["resourceVersion"]
                    if self.stopping.is_set():
                        break
            except Exception as error:  # keep watching; report if it keeps failing
                with self.lock:
                    self.errors.append(f"{kind} watch: {error!r}")
                if len(self.errors) > 20:
                    return
                time.sleep(0.2)

    def start(self) -> Timeline:
        for kind in self.KINDS:
            listing = self._raw_list(kind)
            for item in listing.get("items", []):
                item.setdefault("metadata", {})
                self._record(kind, "ADDED", item)
            thread = threading.Thread(
                target=self._watch, args=(kind, listing["metadata"]["resourceVersion"]), daemon=True
            )
            thread.start()
            self.threads.append(thread)
        return self

    def sync(self, timeout: float = 10) -> None:
        """Waits until every watch has delivered at least what a fresh list shows."""
        wanted = {
            kind: max((int(i["metadata"]["resourceVersion"]) for i in self._raw_list(kind).get("items", [])), default=0)
            for kind in self.KINDS
        }

        def caught_up() -> bool:
            with self.lock:
                return all(self.last_revision[kind] >= revision for kind, revision in wanted.items())

        wait_until(caught_up, timeout=timeout, what="watches caught up", interval=0.05)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=5)

    def dump(self, path: Path) -> None:
        """Writes every change, in order, one JSON object per line (kept with the test's logs)."""
        with path.open("w") as out:
            for change in self.ordered():
                record = {"revision": change.revision, "kind": change.kind, "type": change.type, "object": change.obj}
                out.write(json.dumps(record) + "\n")

    # ------------------------------------------------------------------ replay

    def ordered(self) -> list[Change]:
        with self.lock:
            changes = list(self.changes)
        # Relists after a reconnect may repeat a change: keep each (kind, name, revision) once.
        unique = {(c.kind, c.name, c.revision, c.type): c for c in changes}
        return sorted(unique.values(), key=lambda c: c.revision)

    def replay(self) -> Iterator[tuple[Change, dict[str, dict[str, dict[str, Any]]]]]:
        """Each change in order with the state of the namespace right after it."""
        state: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in self.KINDS}
        for change in self.ordered():
            if change.type == "DELETED":
                state[change.kind].pop(change.name, None)
            else:
                state[change.kind][change.name] = change.obj
            yield change, state

    @staticmethod
    def _owned_selector(service: dict[str, Any]) -> dict[str, str] | None:
        selector = (service.get("spec") or {}).get("selector") or {}
        labels = service["metadata"].get("labels") or {}
        if ROLLOUT_LABEL not in labels or ROLLOUT_LABEL not in selector:
            return None
        return dict(selector)

    def violations(self) -> list[Violation]:
        """Every moment an owned Service selected pods none of which was ready."""
        found: list[Violation] = []
        for change, state in self.replay():
            if change.kind not in ("Service", "Pod"):
                continue
            for name, service in state["Service"].items():
                selector = self._owned_selector(service)
                if selector is None:
                    continue
                pods = [
                    p for p in state["Pod"].values() if selector.items() <= (p["metadata"].get("labels") or {}).items()
                ]
                if any(pod_ready(p) for p in pods):
                    continue
                ready: dict[str, int] = {}
                for pod in state["Pod"].values():
                    labels = pod["metadata"].get("labels") or {}
                    if labels.get(ROLLOUT_LABEL) == selector[ROLLOUT_LABEL]:
                        version = labels.get(VERSION_LABEL, "?")
                        ready[version] = ready.get(version, 0) + int(pod_ready(pod))
                found.append(Violation(change.revision, name, selector, ready))
        return found

    def selector_history(self, service: str) -> list[str]:
        """The versions a Service selected, in order, without repeats ("*" = every version)."""
        history: list[str] = []
        for change in self.ordered():
            if change.kind != "Service" or change.name != service or change.type == "DELETED":
                continue
            selected = (change.obj.get("spec") or {}).get("selector", {}).get(VERSION_LABEL, "*")
            if not history or history[-1] != selected:
                history.append(selected)
        return history

    def selector_changes(self) -> int:
        """How many times an owned Service's selector changed after it was created."""
        services = {c.name for c in self.ordered() if c.kind == "Service"}
        return sum(max(len(self.selector_history(s)) - 1, 0) for s in services)

    def ready_pods_when_selected(self, service: str, version_label: str) -> list[dict[str, int]]:
        """Ready pods by version at each moment `service` started selecting `version_label`."""
        moments: list[dict[str, int]] = []
        previous: str | None = None
        for change, state in self.replay():
            if change.kind != "Service" or change.name != service or change.type == "DELETED":
                continue
            selected = (change.obj.get("spec") or {}).get("selector", {}).get(VERSION_LABEL, "*")
            if selected == version_label and previous != version_label:
                ready: dict[str, int] = {}
                for pod in state["Pod"].values():
                    version = (pod["metadata"].get("labels") or {}).get(VERSION_LABEL, "?")
                    ready[version] = ready.get(version, 0) + int(pod_ready(pod))
                moments.append(ready)
            previous = selected
        return moments

    def deployment_replicas(self, name: str) -> list[int]:
        """spec.replicas of a Deployment as it changed, in order, without repeats."""
        history: list[int] = []
        for change in self.ordered():
            if change.kind == "Deployment" and change.name == name and change.type != "DELETED":
                replicas = int((change.obj.get("spec") or {}).get("replicas", 0))
                if not history or history[-1] != replicas:
                    history.append(replicas)
        return history

    def rollout_statuses(self, name: str) -> list[dict[str, Any]]:
        """Every status the Rollout had, in order."""
        return [
            c.obj.get("status") or {}
            for c in self.ordered()
            if c.kind == "Rollout" and c.name == name and c.type != "DELETED"
        ]

    def step_regressions(self, name: str) -> list[str]:
        """Places where status.currentStep went backwards for the same candidate run."""
        problems: list[str] = []
        last: tuple[str | None, str | None, int] | None = None
        for status in self.rollout_statuses(name):
            step = status.get("currentStep")
            run = (status.get("candidateVersion"), status.get("startedAt"))
            if step is None or run[0] is None:
                continue
            if last is not None and (last[0], last[1]) == run and step < last[2]:
                problems.append(f"{run[0]} (started {run[1]}): currentStep {last[2]} -> {step}")
            last = (run[0], run[1], step)
        return problems
