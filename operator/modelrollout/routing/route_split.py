"""Holding an A/B split on a route object (HTTPRoute backendRefs, the userHash route table).

The route object gives each variant its exact percentage whatever the pods: the control stays at
full size behind the active Service (so it can take back any share at once: a variant removed, the
test ended), every other variant runs the pods for its share behind a Service of its own.

Order keeps requests on ready pods, as for the two-version weighted routers: the split goes on the
route once every variant has the pods for its share and its Service is seen selecting them; a share
goes down at once (to 0 for a variant without a ready pod); a variant shrinks only once the route
carries the lower share.
"""

from __future__ import annotations

from collections.abc import Mapping

from modelrollout.routing.split import SplitPlan, SplitView, VariantView
from modelrollout.routing.weighted import candidate_replicas


class RouteSplitter:
    """The A/B side of the gatewayAPI and userHash routers."""

    def __init__(self, name: str) -> None:
        self.name = name

    def split(self, view: SplitView, weights: Mapping[str, int]) -> SplitPlan:
        observed = {variant.version: variant for variant in view.variants}
        on_route = {v: (observed[v].route or 0) if v in observed else 0 for v in weights}
        challengers = [v for v in weights if v != view.control]
        wanted = {v: candidate_replicas(view.total, weights[v]) for v in challengers}

        def serving(version: str) -> bool:
            variant = observed.get(version)
            return variant is not None and variant.selected and variant.ready >= 1

        def ready(version: str) -> bool:
            variant = observed.get(version)
            return serving(version) and variant is not None and variant.ready >= max(1, wanted[version])

        if all(ready(v) for v in challengers if weights[v] > 0):
            shares = {v: weights[v] for v in challengers}
        else:
            # Not every variant is ready yet (or one lost its pods): keep what already serves.
            shares = {v: min(on_route[v], weights[v]) if serving(v) else 0 for v in challengers}
        control_share = 100 - sum(shares.values())
        route = {v: control_share if v == view.control else shares[v] for v in weights}

        replicas = {view.control: view.total}
        for version in challengers:
            have = observed[version].replicas if version in observed else 0
            # Fewer pods only once the route sends them no more than they can serve, and none while
            # the variant's Service still selects them.
            selected = version in observed and observed[version].selected
            shrink_later = wanted[version] < have and (
                on_route[version] > route[version] or (wanted[version] == 0 and selected)
            )
            replicas[version] = have if shrink_later else wanted[version]

        seen = any(variant.route is not None for variant in view.variants)
        in_force = dict(on_route) if seen else {v: 100 if v == view.control else 0 for v in weights}
        settled = on_route == dict(weights) and all(
            ready(v) and _replicas(observed.get(v)) == wanted[v] for v in challengers if weights[v] > 0
        )
        return SplitPlan(replicas=replicas, active="control", weights=in_force, settled=settled, route=route)


def _replicas(variant: VariantView | None) -> int:
    return variant.replicas if variant is not None else 0
