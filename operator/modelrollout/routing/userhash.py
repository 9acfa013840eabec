"""The `userHash` router: a published route table; `assign` keeps each user on one version."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from modelrollout.routing.assign import BUCKETS
from modelrollout.routing.weighted import WeightedRouter


class UserHashRouter(WeightedRouter):
    """Weights in a route table (ConfigMap `<rollout>-routes`) that applications and gateways read
    and hand to `modelrollout.routing.assign.assign` per request. It cannot mirror requests."""

    name = "userHash"
    can_mirror = False


def route_table(
    *,
    rollout: str,
    namespace: str,
    header: str,
    salt: str,
    stable: Mapping[str, str],
    candidate: Mapping[str, str] | None,
    weight: int,
) -> dict[str, Any]:
    """The table `assign` reads (its module docstring shows one)."""
    return {
        "rollout": rollout,
        "namespace": namespace,
        "header": header,
        "salt": salt,
        "weight": weight if candidate is not None else 0,
        "stable": dict(stable),
        "candidate": dict(candidate) if candidate is not None else None,
    }


def variant_table(
    *,
    rollout: str,
    namespace: str,
    header: str,
    salt: str,
    variants: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The table of an A/B test: `variants` (version, label, service, weight, share), the control last.

    Each variant owns the buckets of its `share` (its weight in the spec), in the order given, for
    the whole test; `weight` is what it serves now (0: out of traffic, its users draw again). One
    variant alone is the idle table. `stable` is the control (the fallback); `candidate` and
    `weight` name the first variant, so a reader of the two-version table still splits sensibly.
    """
    entries: list[dict[str, Any]] = []
    low = 0
    for variant in variants:
        high = min(BUCKETS, low + int(variant["share"]) * BUCKETS // 100)
        entry = {key: str(variant[key]) for key in ("version", "label", "service")}
        entries.append({**entry, "weight": int(variant["weight"]), "buckets": [low, high]})
        low = high
    control = {key: entries[-1][key] for key in ("version", "label", "service")}
    serving = [entry for entry in entries if entry["weight"] > 0]
    if len(entries) == 1 or (len(serving) == 1 and serving[0] is entries[-1]):
        return route_table(
            rollout=rollout, namespace=namespace, header=header, salt=salt, stable=control, candidate=None, weight=0
        )
    first = entries[0]
    table = route_table(
        rollout=rollout,
        namespace=namespace,
        header=header,
        salt=salt,
        stable=control,
        candidate={key: first[key] for key in ("version", "label", "service")},
        weight=first["weight"],
    )
    table["variants"] = entries
    return table
