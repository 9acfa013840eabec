"""The traffic routers' own objects: the userHash route table (a ConfigMap the Rollout owns) and
the weights on a user's Gateway API HTTPRoute.

The route table is created by the operator and carries a controller ownerReference to its
Rollout; one that exists without it is never adopted (the Rollout reports it instead). An
HTTPRoute belongs to the user: the operator changes only the backendRefs of the rules that send
to the Rollout's stable Service (their weights and the canary Service's entry), and the mirror
filter of a shadow step, by a JSON patch guarded by the resourceVersion it read, so an edit in
between is never overwritten blindly. Gateway API declares `rules` an atomic list, so server-side
apply would take the whole list: the patch keeps every other rule, match and filter as read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from modelrollout.adapters.manifests import owner_reference
from modelrollout.api.labels import FIELD_MANAGER, MANAGED_BY, MANAGED_BY_LABEL, ROLLOUT_LABEL
from modelrollout.core import naming
from modelrollout.core.actions import SetTrafficSplit
from modelrollout.core.observed import RouteState
from modelrollout.routing.assign import TABLE_KEY, load_table
from modelrollout.routing.userhash import route_table

APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
JSON_PATCH_CONTENT_TYPE = "application/json-patch+json"
GATEWAY_GROUP = "gateway.networking.k8s.io"
GATEWAY_VERSION = "v1"
HTTPROUTES = "httproutes"


def route_table_name(rollout: str) -> str:
    return f"{rollout}-routes"


class RouteGateway(Protocol):
    """What the reconciler needs to observe and write the routers' objects."""

    def observe(self, rollout: dict[str, Any]) -> RouteState: ...
    def apply(self, rollout: dict[str, Any], split: SetTrafficSplit) -> None: ...


def _routing(rollout: Mapping[str, Any]) -> Mapping[str, Any]:
    strategy = (rollout.get("spec") or {}).get("strategy") or {}
    return ((strategy.get("canary") or {}).get("trafficRouting")) or {}


# ---------------------------------------------------------------- route table (userHash)


def route_table_manifest(rollout: dict[str, Any], split: SetTrafficSplit) -> dict[str, Any]:
    """The ConfigMap `<rollout>-routes` holding the table `assign` reads."""
    meta = rollout["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    options = _routing(rollout).get("userHash") or {}
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


# ---------------------------------------------------------------- HTTPRoute (gatewayAPI)


@dataclass(frozen=True)
class Backends:
    """The Services the operator weighs on an HTTPRoute."""

    stable: str
    canary: str
    port: int


def _is_service(ref: Mapping[str, Any], name: str, namespace: str) -> bool:
    return (
        ref.get("name") == name
        and ref.get("group", "") in ("", "core")
        and ref.get("kind", "Service") == "Service"
        and ref.get("namespace", namespace) == namespace
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


def http_route_patch(
    route: Mapping[str, Any], backends: Backends, namespace: str, weight: int, mirror: int = 0
) -> list[Any]:
    """JSON patch ops setting `weight` (and `mirror`) on every managed rule; empty when already so."""
    rules = (route.get("spec") or {}).get("rules") or []
    ops: list[dict[str, Any]] = []
    for index in managed_rules(route, backends, namespace):
        refs = list(rules[index].get("backendRefs") or [])
        wanted = weighted_backend_refs(refs, backends, namespace, weight)
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


# ---------------------------------------------------------------- the gateway


class KubernetesRoutes:
    """RouteGateway on the official kubernetes client."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.core = client.CoreV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)

    def observe(self, rollout: dict[str, Any]) -> RouteState:
        routing = _routing(rollout)
        if routing.get("userHash") is not None:
            return self._observe_table(rollout)
        if routing.get("gatewayAPI") is not None:
            return self._observe_http_route(rollout, str(routing["gatewayAPI"].get("httpRoute", "")))
        return RouteState()

    def apply(self, rollout: dict[str, Any], split: SetTrafficSplit) -> None:
        routing = _routing(rollout)
        if routing.get("userHash") is not None:
            self._apply_table(rollout, split)
        elif routing.get("gatewayAPI") is not None:
            self._apply_http_route(rollout, str(routing["gatewayAPI"].get("httpRoute", "")), split)

    # ------------------------------------------------------------ route table

    def _read_config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            response = self.core.read_namespaced_config_map(name, namespace, _preload_content=False)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return cast(dict[str, Any], json.loads(cast(Any, response).data))

    def _observe_table(self, rollout: dict[str, Any]) -> RouteState:
        meta = rollout["metadata"]
        name = route_table_name(meta["name"])
        config_map = self._read_config_map(meta["namespace"], name)
        if config_map is None:
            return RouteState()
        if not owned_by(config_map, rollout):
            return RouteState(
                problem=f"ConfigMap {name} exists and was not created by this Rollout (no controller "
                "ownerReference to it): delete or rename that ConfigMap so the Rollout can publish its route table"
            )
        try:
            table = load_table((config_map.get("data") or {}).get(TABLE_KEY, ""))
        except ValueError:
            return RouteState(weight=None)  # unreadable: rewritten by the next split
        return RouteState(weight=int(table.get("weight") or 0) if table.get("candidate") else 0)

    def _apply_table(self, rollout: dict[str, Any], split: SetTrafficSplit) -> None:
        manifest = route_table_manifest(rollout, split)
        meta = manifest["metadata"]
        current = self._read_config_map(meta["namespace"], meta["name"])
        if current is not None and not owned_by(current, rollout):
            return  # never adopt; observe() reported it
        if current is not None and (current.get("data") or {}) == manifest["data"]:
            return
        self.core.patch_namespaced_config_map(
            meta["name"],
            meta["namespace"],
            manifest,
            field_manager=FIELD_MANAGER,
            force=True,
            _content_type=APPLY_CONTENT_TYPE,
        )

    # ------------------------------------------------------------ HTTPRoute

    def _read_http_route(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return cast(
                dict[str, Any],
                self.custom.get_namespaced_custom_object(GATEWAY_GROUP, GATEWAY_VERSION, namespace, HTTPROUTES, name),
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    @staticmethod
    def _backends(rollout: dict[str, Any]) -> Backends:
        name = rollout["metadata"]["name"]
        port = int(((rollout.get("spec") or {}).get("service") or {}).get("port", 80))
        return Backends(stable=naming.active_service(name), canary=naming.canary_service(name), port=port)

    def _observe_http_route(self, rollout: dict[str, Any], route_name: str) -> RouteState:
        namespace = rollout["metadata"]["namespace"]
        backends = self._backends(rollout)
        route = self._read_http_route(namespace, route_name)
        if route is None:
            return RouteState(
                problem=f"HTTPRoute {route_name} not found in namespace {namespace} (or the Gateway API CRDs are "
                f"not installed): create it with a rule whose backendRefs include Service {backends.stable}, or fix "
                "spec.strategy.canary.trafficRouting.gatewayAPI.httpRoute"
            )
        if not managed_rules(route, backends, namespace):
            return RouteState(
                problem=f"HTTPRoute {route_name} has no rule with a backendRef to Service {backends.stable}: add "
                f"{{name: {backends.stable}, port: {backends.port}}} to the backendRefs of the rule this Rollout "
                "should weigh"
            )
        return RouteState(
            weight=http_route_weight(route, backends, namespace), mirror=http_route_mirror(route, backends, namespace)
        )

    def _apply_http_route(self, rollout: dict[str, Any], route_name: str, split: SetTrafficSplit) -> None:
        namespace = rollout["metadata"]["namespace"]
        route = self._read_http_route(namespace, route_name)
        if route is None:
            return
        ops = http_route_patch(route, self._backends(rollout), namespace, split.weight, split.mirror)
        if not ops:
            return
        try:
            self.custom.patch_namespaced_custom_object(
                GATEWAY_GROUP,
                GATEWAY_VERSION,
                namespace,
                HTTPROUTES,
                route_name,
                ops,
                field_manager=FIELD_MANAGER,
                _content_type=JSON_PATCH_CONTENT_TYPE,
            )
        except ApiException as error:
            # 422: the route changed since it was read (the resourceVersion test failed); 404: gone.
            # Either way the next pass reads it again.
            if error.status not in (404, 409, 422):
                raise
