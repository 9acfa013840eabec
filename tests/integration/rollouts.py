"""Helpers for end-to-end tests: build ModelVersions and Rollouts, read what the operator did."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from kubernetes import client

from modelrollout.api.common import GROUP, VERSION
from modelrollout.api.controls import CONTROL_ANNOTATION
from modelrollout.api.labels import ROLLOUT_LABEL, VERSION_LABEL
from modelrollout.devenv import wait_until

T = TypeVar("T")


def model_version(name: str, version: str, model: str = "support-agent", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelVersion",
        "metadata": {"name": name},
        "spec": {
            "model": model,
            "version": version,
            "stage": "staging",
            "template": {
                "spec": {"containers": [{"name": "server", "image": f"example.com/{model}-server:{version}"}]}
            },
            **spec,
        },
    }


def canary_rollout(
    name: str, target: str, steps: list[dict[str, Any]], replicas: int = 4, **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "model": "support-agent",
            "targetVersion": target,
            "replicas": replicas,
            "strategy": {"canary": {"steps": steps, "scaleDownDelaySeconds": 2}},
            **spec,
        },
    }


def bluegreen_rollout(name: str, target: str, replicas: int = 2, **strategy: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "model": "support-agent",
            "targetVersion": target,
            "replicas": replicas,
            "strategy": {"blueGreen": {"scaleDownDelaySeconds": 3, **strategy}},
        },
    }


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
        events = self.core.list_namespaced_event(self.namespace, field_selector=f"involvedObject.name={name}")
        return [f"{e.reason}: {e.message}" for e in events.items]

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
            raise AssertionError(f"{what}; last status: {self.status(name)}") from error
