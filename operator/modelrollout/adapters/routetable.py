"""The userHash router's route table: the ConfigMap `<rollout>-routes` a Rollout creates and owns."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from modelrollout.adapters.manifests import owner_reference
from modelrollout.api.labels import MANAGED_BY, MANAGED_BY_LABEL, ROLLOUT_LABEL
from modelrollout.core import naming
from modelrollout.core.actions import SetTrafficSplit
from modelrollout.routing.assign import TABLE_KEY
from modelrollout.routing.userhash import route_table


def route_table_name(rollout: str) -> str:
    return f"{rollout}-routes"


def routing_of(rollout: Mapping[str, Any]) -> Mapping[str, Any]:
    """spec.strategy.canary.trafficRouting of a raw Rollout (empty when unset)."""
    strategy = (rollout.get("spec") or {}).get("strategy") or {}
    return ((strategy.get("canary") or {}).get("trafficRouting")) or {}


def route_table_manifest(rollout: dict[str, Any], split: SetTrafficSplit) -> dict[str, Any]:
    """The ConfigMap `<rollout>-routes` holding the table `assign` reads."""
    meta = rollout["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    options = routing_of(rollout).get("userHash") or {}
    stable = {"version": split.stable, "label": split.stable_label, "service": naming.active_service(name)}
    candidate = None
    if split.candidate is not None and split.candidate_label is not None:
        candidate = {
            "version": split.candidate,
            "label": split.candidate_label,
            "service": naming.canary_service(name),
        }
    table = route_table(
        rollout=name,
        namespace=namespace,
        header=str(options.get("header") or "x-user-id"),
        salt=str(options.get("salt") or f"{namespace}/{name}"),
        stable=stable,
        candidate=candidate,
        weight=split.weight,
    )
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": route_table_name(name),
            "namespace": namespace,
            "labels": {ROLLOUT_LABEL: name, MANAGED_BY_LABEL: MANAGED_BY},
            "ownerReferences": [owner_reference(rollout)],
        },
        "data": {TABLE_KEY: json.dumps(table, sort_keys=True)},
    }


def owned_by(obj: Mapping[str, Any], rollout: Mapping[str, Any]) -> bool:
    """Whether `obj` has a controller ownerReference to this very Rollout (uid, not just name)."""
    uid = rollout["metadata"].get("uid")
    return any(
        ref.get("controller") and ref.get("kind") == "Rollout" and ref.get("uid") == uid
        for ref in (obj.get("metadata", {}).get("ownerReferences") or [])
    )
