"""Pure edits of a user's HTTPRoute for the gatewayAPI router: the weights of the backendRefs of
the rules that send to the Rollout's stable Service (the canary Service's, or an A/B test's variant
Services'), and the mirror filter of a shadow step. Everything else in the route is kept as read."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Backends:
    """The Services the operator weighs on an HTTPRoute."""

    stable: str
    canary: str
    port: int
    # Names of the A/B variant Services start with it, a number after it ("" : none).
    variant_prefix: str = ""


def _is_service(ref: Mapping[str, Any], name: str, namespace: str) -> bool:
    return (
        ref.get("name") == name
        and ref.get("group", "") in ("", "core")
        and ref.get("kind", "Service") == "Service"
        and ref.get("namespace", namespace) == namespace
    )


def _is_variant(ref: Mapping[str, Any], backends: Backends, namespace: str) -> bool:
    name = str(ref.get("name", ""))
    prefix = backends.variant_prefix
    return (
        bool(prefix) and name.startswith(prefix) and name[len(prefix) :].isdigit() and _is_service(ref, name, namespace)
    )


def _ours(ref: Mapping[str, Any], backends: Backends, namespace: str) -> bool:
    return (
        _is_service(ref, backends.stable, namespace)
        or _is_service(ref, backends.canary, namespace)
        or _is_variant(ref, backends, namespace)
    )


def managed_rules(route: Mapping[str, Any], backends: Backends, namespace: str) -> list[int]:
    """Indexes of the rules that send to the stable Service: the ones this Rollout weighs."""
    rules = (route.get("spec") or {}).get("rules") or []
    return [
        index
        for index, rule in enumerate(rules)
        if any(_is_service(ref, backends.stable, namespace) for ref in rule.get("backendRefs") or [])
    ]


def http_route_weight(route: Mapping[str, Any], backends: Backends, namespace: str) -> int:
    """The highest share any managed rule gives the canary Service, in percent."""
    rules = (route.get("spec") or {}).get("rules") or []
    shares = [0]
    for index in managed_rules(route, backends, namespace):
        refs = rules[index].get("backendRefs") or []
        stable = sum(int(r.get("weight", 1)) for r in refs if _is_service(r, backends.stable, namespace))
        canary = sum(int(r.get("weight", 1)) for r in refs if _is_service(r, backends.canary, namespace))
        total = stable + canary
        shares.append(round(100 * canary / total) if total else 0)
    return max(shares)


def http_route_backends(route: Mapping[str, Any], backends: Backends, namespace: str) -> dict[str, int]:
    """Percentage of requests per Service of this Rollout (stable, canary, variants), the highest any
    managed rule gives it; shares among this Rollout's Services only."""
    rules = (route.get("spec") or {}).get("rules") or []
    shares: dict[str, int] = {}
    for index in managed_rules(route, backends, namespace):
        refs = [r for r in rules[index].get("backendRefs") or [] if _ours(r, backends, namespace)]
        total = sum(int(r.get("weight", 1)) for r in refs)
        for ref in refs:
            share = round(100 * int(ref.get("weight", 1)) / total) if total else 0
            shares[str(ref["name"])] = max(shares.get(str(ref["name"]), 0), share)
    return shares


def _is_our_mirror(item: Mapping[str, Any], backends: Backends, namespace: str) -> bool:
    if item.get("type") != "RequestMirror":
        return False
    ref = (item.get("requestMirror") or {}).get("backendRef") or {}
    return _is_service(ref, backends.canary, namespace)


def http_route_mirror(route: Mapping[str, Any], backends: Backends, namespace: str) -> int:
    """The highest percentage any managed rule mirrors to the canary Service."""
    rules = (route.get("spec") or {}).get("rules") or []
    percents = [0]
    for index in managed_rules(route, backends, namespace):
        for item in rules[index].get("filters") or []:
            if _is_our_mirror(item, backends, namespace):
                mirror = item.get("requestMirror") or {}
                fraction = mirror.get("fraction")
                if fraction:
                    percents.append(round(100 * int(fraction["numerator"]) / int(fraction.get("denominator", 100))))
                else:
                    percents.append(int(mirror.get("percent", 100)))
    return max(percents)


def mirrored_filters(filters: list[dict[str, Any]], backends: Backends, namespace: str, mirror: int) -> list[Any]:
    """A rule's filters with our RequestMirror to the canary Service at `mirror` percent (none at 0);
    every other filter as it was."""
    result = [item for item in filters if not _is_our_mirror(item, backends, namespace)]
    if mirror > 0:
        port = backends.port
        result.append(
            {
                "type": "RequestMirror",
                "requestMirror": {
                    "backendRef": {"group": "", "kind": "Service", "name": backends.canary, "port": port},
                    "percent": mirror,
                },
            }
        )
    return result


def weighted_backend_refs(refs: list[dict[str, Any]], backends: Backends, namespace: str, weight: int) -> list[Any]:
    """A rule's backendRefs with the stable and canary Services at `weight`; others untouched."""
    result: list[dict[str, Any]] = []
    has_canary = False
    port = backends.port
    for ref in refs:
        if _is_variant(ref, backends, namespace):
            continue  # left from an A/B test: it has no share in a canary
        if _is_service(ref, backends.stable, namespace):
            port = int(ref.get("port", port))
            result.append({**ref, "weight": 100 - weight})
        elif _is_service(ref, backends.canary, namespace):
            has_canary = True
            result.append({**ref, "weight": weight})
        else:
            result.append(ref)
    if not has_canary:
        result.append({"group": "", "kind": "Service", "name": backends.canary, "port": port, "weight": weight})
    return result


def split_backend_refs(
    refs: list[dict[str, Any]], backends: Backends, namespace: str, weights: Mapping[str, int]
) -> list[Any]:
    """A rule's backendRefs for an A/B split: `weights` by Service name (the stable Service's among
    them), the canary Service at 0, variant Services not in `weights` gone; others untouched."""
    result: list[dict[str, Any]] = []
    port = backends.port
    present: set[str] = set()
    for ref in refs:
        name = str(ref.get("name", ""))
        if _is_service(ref, backends.stable, namespace) or _is_variant(ref, backends, namespace):
            port = int(ref.get("port", port)) if name == backends.stable else port
            if name in weights:
                present.add(name)
                result.append({**ref, "weight": weights[name]})
        elif _is_service(ref, backends.canary, namespace):
            result.append({**ref, "weight": 0})
        else:
            result.append(ref)
    for name, weight in weights.items():
        if name not in present:
            result.append({"group": "", "kind": "Service", "name": name, "port": port, "weight": weight})
    return result


def http_route_split_patch(
    route: Mapping[str, Any], backends: Backends, namespace: str, weights: Mapping[str, int]
) -> list[Any]:
    """JSON patch ops putting an A/B split (`weights` by Service) on every managed rule, with no
    mirror; empty when already so."""
    return _patch(route, backends, namespace, lambda refs: split_backend_refs(refs, backends, namespace, weights), 0)


def http_route_patch(
    route: Mapping[str, Any], backends: Backends, namespace: str, weight: int, mirror: int = 0
) -> list[Any]:
    """JSON patch ops setting `weight` (and `mirror`) on every managed rule; empty when already so."""
    return _patch(
        route, backends, namespace, lambda refs: weighted_backend_refs(refs, backends, namespace, weight), mirror
    )


def _patch(
    route: Mapping[str, Any],
    backends: Backends,
    namespace: str,
    new_refs: Callable[[list[dict[str, Any]]], list[Any]],
    mirror: int,
) -> list[Any]:
    rules = (route.get("spec") or {}).get("rules") or []
    ops: list[dict[str, Any]] = []
    for index in managed_rules(route, backends, namespace):
        refs = list(rules[index].get("backendRefs") or [])
        wanted = new_refs(refs)
        if wanted != refs:
            ops.append({"op": "replace", "path": f"/spec/rules/{index}/backendRefs", "value": wanted})
        filters = list(rules[index].get("filters") or [])
        wanted_filters = mirrored_filters(filters, backends, namespace, mirror)
        if wanted_filters != filters:
            path = f"/spec/rules/{index}/filters"
            ops.append(
                {"op": "add", "path": path, "value": wanted_filters}
                if wanted_filters
                else {"op": "remove", "path": path}
            )
    if not ops:
        return []
    version = route["metadata"]["resourceVersion"]
    return [{"op": "test", "path": "/metadata/resourceVersion", "value": version}, *ops]
