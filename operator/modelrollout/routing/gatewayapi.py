"""The `gatewayAPI` router: weights on the backendRefs of a Gateway API HTTPRoute.

Exact percentages (1 % granularity) whatever the replica counts; any Gateway implementation
that supports weighted backendRefs carries them out (Envoy Gateway, Istio, NGINX Gateway
Fabric, kgateway, Traefik). The HTTPRoute belongs to the user: only the backendRefs of the rules
sending to the stable Service are managed.
"""

from __future__ import annotations

from modelrollout.routing.weighted import WeightedRouter


class GatewayAPIRouter(WeightedRouter):
    name = "gatewayAPI"
    # HTTPRoute's RequestMirror filter (with a percentage since Gateway API 1.2).
    can_mirror = True
