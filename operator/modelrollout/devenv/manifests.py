"""ModelVersions and Rollouts of the `support-agent` model for tests, benchmarks and experiments
on the local environment: small, valid objects with short timings."""

from __future__ import annotations

from typing import Any

from modelrollout.api.common import GROUP, VERSION


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
