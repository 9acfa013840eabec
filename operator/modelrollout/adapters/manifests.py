"""Pure builders of the objects a Rollout owns: one Deployment per version, and Services."""

from __future__ import annotations

from typing import Any

from modelrollout.api.common import API_VERSION, version_slug
from modelrollout.api.labels import MANAGED_BY, MANAGED_BY_LABEL, MODEL_LABEL, ROLLOUT_LABEL, VERSION_LABEL
from modelrollout.api.modelversion import ModelVersion
from modelrollout.core.actions import ServiceRole
from modelrollout.core.naming import deployment_name

MODEL_VERSION_ANNOTATION = "modelrollout.io/model-version"
ROLE_LABEL = "modelrollout.io/service-role"


def owner_reference(rollout: dict[str, Any]) -> dict[str, Any]:
    """Children are owned by the Rollout, so deleting it garbage-collects them."""
    meta = rollout["metadata"]
    return {
        "apiVersion": API_VERSION,
        "kind": "Rollout",
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def version_env(rollout_name: str, model_version_name: str, model_version: ModelVersion) -> list[dict[str, str]]:
    """What a serving container learns about itself."""
    spec = model_version.spec
    env = [
        {"name": "MODEL_NAME", "value": spec.model},
        {"name": "MODEL_VERSION", "value": spec.version},
        {"name": "MODEL_VERSION_NAME", "value": model_version_name},
        {"name": "MODELROLLOUT_ROLLOUT", "value": rollout_name},
    ]
    if spec.artifact and spec.artifact.uri:
        env.append({"name": "MODEL_ARTIFACT_URI", "value": spec.artifact.uri})
    return env


def deployment_manifest(
    rollout: dict[str, Any], model_version_name: str, model_version: ModelVersion, replicas: int
) -> dict[str, Any]:
    """The Deployment serving one version, from the ModelVersion's pod template."""
    rollout_name = rollout["metadata"]["name"]
    slug = version_slug(model_version.spec.version)
    selector = {ROLLOUT_LABEL: rollout_name, VERSION_LABEL: slug}
    labels = {**selector, MODEL_LABEL: model_version.spec.model, MANAGED_BY_LABEL: MANAGED_BY}
    template = model_version.spec.template
    pod_meta = template.metadata
    pod_spec = template.spec.model_dump(by_alias=True, exclude_none=True, mode="json")
    env = version_env(rollout_name, model_version_name, model_version)
    for container in pod_spec["containers"]:
        existing = {item.get("name") for item in container.get("env", [])}
        container["env"] = list(container.get("env", [])) + [e for e in env if e["name"] not in existing]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": deployment_name(rollout_name, model_version.spec.version),
            "namespace": rollout["metadata"]["namespace"],
            "labels": labels,
            "annotations": {MODEL_VERSION_ANNOTATION: model_version_name},
            "ownerReferences": [owner_reference(rollout)],
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {
                    "labels": {**(pod_meta.labels if pod_meta else {}), **labels},
                    "annotations": {
                        **(pod_meta.annotations if pod_meta else {}),
                        MODEL_VERSION_ANNOTATION: model_version_name,
                    },
                },
                "spec": pod_spec,
            },
        },
    }


def service_manifest(
    rollout: dict[str, Any], name: str, role: ServiceRole, version_label: str | None
) -> dict[str, Any]:
    """A Service selecting one version of the rollout, or all of them when version_label is None."""
    rollout_name = rollout["metadata"]["name"]
    spec = rollout.get("spec", {})
    ports = spec.get("service", {})
    selector = {ROLLOUT_LABEL: rollout_name}
    if version_label is not None:
        selector[VERSION_LABEL] = version_label
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": rollout["metadata"]["namespace"],
            "labels": {
                ROLLOUT_LABEL: rollout_name,
                ROLE_LABEL: role,
                MODEL_LABEL: spec.get("model", ""),
                MANAGED_BY_LABEL: MANAGED_BY,
            },
            "ownerReferences": [owner_reference(rollout)],
        },
        "spec": {
            "selector": selector,
            "ports": [
                {
                    "name": "http",
                    "port": int(ports.get("port", 80)),
                    "targetPort": int(ports.get("targetPort", 8080)),
                    "protocol": "TCP",
                }
            ],
        },
    }
