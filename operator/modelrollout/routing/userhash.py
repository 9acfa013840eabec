"""The `userHash` router: a published route table; `assign` keeps each user on one version."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
