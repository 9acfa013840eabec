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
from typing import Any, Protocol, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from modelrollout.adapters.httproute import (
    Backends,
    http_route_backends,
    http_route_mirror,
    http_route_patch,
    http_route_split_patch,
    http_route_weight,
    managed_rules,
)
from modelrollout.adapters.routetable import (
    owned_by,
    route_table_manifest,
    route_table_name,
    routing_of,
    routing_path,
    table_backends,
    variant_table_manifest,
)
from modelrollout.api.labels import FIELD_MANAGER
from modelrollout.core import naming
from modelrollout.core.actions import SetTrafficSplit, SetVariantSplit
from modelrollout.core.observed import RouteState
from modelrollout.routing.assign import TABLE_KEY, load_table

APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
JSON_PATCH_CONTENT_TYPE = "application/json-patch+json"
GATEWAY_GROUP = "gateway.networking.k8s.io"
GATEWAY_VERSION = "v1"
HTTPROUTES = "httproutes"


class RouteGateway(Protocol):
    """What the reconciler needs to observe and write the routers' objects."""

    def observe(self, rollout: dict[str, Any]) -> RouteState: ...
    def apply(self, rollout: dict[str, Any], split: SetTrafficSplit | SetVariantSplit) -> None: ...


class KubernetesRoutes:
    """RouteGateway on the official kubernetes client."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.core = client.CoreV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)

    def observe(self, rollout: dict[str, Any]) -> RouteState:
        routing = routing_of(rollout)
        if routing.get("userHash") is not None:
            return self._observe_table(rollout)
        if routing.get("gatewayAPI") is not None:
            return self._observe_http_route(rollout, str(routing["gatewayAPI"].get("httpRoute", "")))
        return RouteState()

    def apply(self, rollout: dict[str, Any], split: SetTrafficSplit | SetVariantSplit) -> None:
        routing = routing_of(rollout)
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
        return RouteState(
            weight=int(table.get("weight") or 0) if table.get("candidate") else 0, backends=table_backends(table)
        )

    def _apply_table(self, rollout: dict[str, Any], split: SetTrafficSplit | SetVariantSplit) -> None:
        if isinstance(split, SetVariantSplit):
            manifest = variant_table_manifest(rollout, split)
        else:
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
        return Backends(
            stable=naming.active_service(name),
            canary=naming.canary_service(name),
            port=port,
            variant_prefix=naming.variant_service(name, 0)[:-1],
        )

    def _observe_http_route(self, rollout: dict[str, Any], route_name: str) -> RouteState:
        namespace = rollout["metadata"]["namespace"]
        backends = self._backends(rollout)
        route = self._read_http_route(namespace, route_name)
        if route is None:
            return RouteState(
                problem=f"HTTPRoute {route_name} not found in namespace {namespace} (or the Gateway API CRDs are "
                f"not installed): create it with a rule whose backendRefs include Service {backends.stable}, or fix "
                f"{routing_path(rollout)}.gatewayAPI.httpRoute"
            )
        if not managed_rules(route, backends, namespace):
            return RouteState(
                problem=f"HTTPRoute {route_name} has no rule with a backendRef to Service {backends.stable}: add "
                f"{{name: {backends.stable}, port: {backends.port}}} to the backendRefs of the rule this Rollout "
                "should weigh"
            )
        return RouteState(
            weight=http_route_weight(route, backends, namespace),
            mirror=http_route_mirror(route, backends, namespace),
            backends=http_route_backends(route, backends, namespace),
        )

    def _apply_http_route(
        self, rollout: dict[str, Any], route_name: str, split: SetTrafficSplit | SetVariantSplit
    ) -> None:
        namespace = rollout["metadata"]["namespace"]
        route = self._read_http_route(namespace, route_name)
        if route is None:
            return
        backends = self._backends(rollout)
        if isinstance(split, SetVariantSplit):
            weights = {backend.service: backend.weight for backend in split.backends}
            ops = http_route_split_patch(route, backends, namespace, weights)
        else:
            ops = http_route_patch(route, backends, namespace, split.weight, split.mirror)
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
