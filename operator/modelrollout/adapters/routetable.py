"""The userHash router's route table: the ConfigMap `<rollout>-routes` a Rollout creates and owns."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from modelrollout.adapters.manifests import owner_reference
from modelrollout.api.labels import MANAGED_BY, MANAGED_BY_LABEL, ROLLOUT_LABEL
from modelrollout.core import naming
from modelrollout.core.actions import SetTrafficSplit, SetVariantSplit
from modelrollout.routing.assign import TABLE_KEY
from modelrollout.routing.userhash import route_table, variant_table


def route_table_name(rollout: str) -> str:
    return f"{rollout}-routes"


def routing_path(rollout: Mapping[str, Any]) -> str:
    """Where the strategy's trafficRouting lives in the spec, for messages."""
    strategy = (rollout.get("spec") or {}).get("strategy") or {}
    return f"spec.strategy.{'abTest' if strategy.get('abTest') is not None else 'canary'}.trafficRouting"


def routing_of(rollout: Mapping[str, Any]) -> Mapping[str, Any]:
    """spec.strategy.canary.trafficRouting (or abTest's) of a raw Rollout (empty when unset)."""
    strategy = (rollout.get("spec") or {}).get("strategy") or {}
    which = strategy.get("canary") or strategy.get("abTest") or {}
    return which.get("trafficRouting") or {}


def _options(rollout: Mapping[str, Any]) -> tuple[str, str]:
    """The header and salt a route table carries."""
    meta = rollout["metadata"]
    options = routing_of(rollout).get("userHash") or {}
    salt = str(options.get("salt") or f"{meta['namespace']}/{meta['name']}")
    return str(options.get("header") or "x-user-id"), salt


def route_table_manifest(rollout: dict[str, Any], split: SetTrafficSplit) -> dict[str, Any]:
    """The ConfigMap `<rollout>-routes` holding the table `assign` reads."""
    meta = rollout["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    header, salt = _options(rollout)
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
        header=header,
        salt=salt,
        stable=stable,
        candidate=candidate,
        weight=split.weight,
    )
    return config_map(rollout, table)


def variant_table_manifest(rollout: dict[str, Any], split: SetVariantSplit) -> dict[str, Any]:
    """The ConfigMap `<rollout>-routes` of an A/B test: every variant with its buckets and weight."""
    meta = rollout["metadata"]
    header, salt = _options(rollout)
    table = variant_table(
        rollout=meta["name"],
        namespace=meta["namespace"],
        header=header,
        salt=salt,
        variants=[
            {"version": b.version, "label": b.label, "service": b.service, "weight": b.weight, "share": b.share}
            for b in split.backends
        ],
    )
    return config_map(rollout, table)


def config_map(rollout: dict[str, Any], table: Mapping[str, Any]) -> dict[str, Any]:
    meta = rollout["metadata"]
    name, namespace = meta["name"], meta["namespace"]
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


def table_backends(table: Mapping[str, Any]) -> dict[str, int]:
    """Percentage of requests per Service a route table sends (its variants', or stable and candidate)."""
    variants = table.get("variants")
    if isinstance(variants, list) and variants:
        return {str(v.get("service")): int(v.get("weight") or 0) for v in variants if isinstance(v, Mapping)}
    stable = str((table.get("stable") or {}).get("service"))
    candidate = table.get("candidate")
    if not isinstance(candidate, Mapping):
        return {stable: 100}
    weight = int(table.get("weight") or 0)
    return {stable: 100 - weight, str(candidate.get("service")): weight}
