"""Splitting traffic between several versions at once (A/B tests), behind one small interface.

The two-version `Router` moves a candidate's weight; an A/B test holds a fixed split over two or more
variants. A router that can do both implements `Splitter` as well; `factory.splitter_for` picks it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

SplitActive = Literal["all", "control"]


@dataclass(frozen=True)
class VariantView:
    """One variant's Deployment as observed."""

    version: str
    replicas: int
    ready: int
    # The Service the route object sends this variant's share to selects it, as observed (routers
    # with a route object only: the active Service for the control, the variant's own for others).
    selected: bool = False
    # Its percentage on the route object as observed; None without one (or before it exists).
    route: int | None = None


@dataclass(frozen=True)
class SplitView:
    """What a splitter needs of the observed cluster."""

    total: int  # spec.replicas
    control: str  # the stable version, serving before the test
    variants: tuple[VariantView, ...]
    # The active Service selects every version of the rollout, as last observed.
    active_selects_all: bool
    # No version outside the variants has pods: a selector over every version is safe.
    others_drained: bool


@dataclass(frozen=True)
class SplitPlan:
    """Desired replicas per variant, what the active Service selects, and the shares in force."""

    replicas: Mapping[str, int]
    active: SplitActive
    # Percentage of requests each variant serves now, as observed.
    weights: Mapping[str, int]
    # Every variant with a weight runs its replicas, ready, and the active Service selects them all.
    settled: bool
    # Percentage per variant to write on the router's route object; None for a router without one.
    route: Mapping[str, int] | None = None


class Splitter(Protocol):
    """One way of holding a split over several versions."""

    name: str

    def split(self, view: SplitView, weights: Mapping[str, int]) -> SplitPlan:
        """Move towards `weights` (percent per version, summing to 100)."""
        ...


def largest_remainder(total: int, weights: Mapping[str, int]) -> dict[str, int]:
    """`total` units shared by weight (Hamilton's method), at least one for every positive weight."""
    positive = {version: weight for version, weight in weights.items() if weight > 0}
    shares = {version: total * weight / 100 for version, weight in positive.items()}
    counts = {version: max(1, math.floor(share)) for version, share in shares.items()}
    spare = total - sum(counts.values())
    for version in sorted(shares, key=lambda v: shares[v] - math.floor(shares[v]), reverse=True)[: max(spare, 0)]:
        counts[version] += 1
    return {version: counts.get(version, 0) for version in weights}


def renormalise(weights: Mapping[str, int]) -> dict[str, int]:
    """Weights scaled to sum to 100 (variants removed from traffic leave their share to the others)."""
    total = sum(weights.values())
    if total <= 0:
        return dict(weights)
    scaled = {version: weight * 100 / total for version, weight in weights.items()}
    floors = {version: math.floor(value) for version, value in scaled.items()}
    spare = 100 - sum(floors.values())
    for version in sorted(scaled, key=lambda v: scaled[v] - floors[v], reverse=True)[:spare]:
        floors[version] += 1
    return floors


class ReplicaSplitter:
    """Shares by replica counts, every variant behind the active Service: weight = share of ready pods."""

    name = "replicas"

    def split(self, view: SplitView, weights: Mapping[str, int]) -> SplitPlan:
        wanted = largest_remainder(view.total, weights)
        observed = {variant.version: variant for variant in view.variants}
        growing_ready = all(
            observed[v].ready >= count if v in observed else count == 0
            for v, count in wanted.items()
            if v != view.control
        )
        replicas = dict(wanted)
        # Grow first: the control shrinks only once every other variant's pods are ready.
        control = observed.get(view.control)
        if control is not None and not growing_ready:
            replicas[view.control] = max(wanted.get(view.control, 0), control.replicas)
        serving = all(observed[v].ready >= 1 for v, count in wanted.items() if count > 0 and v in observed) and all(
            v in observed for v, count in wanted.items() if count > 0
        )
        active: SplitActive = "all" if serving and view.others_drained else "control"
        in_force = {v: 0 for v in weights}
        if view.active_selects_all:
            ready = {v: min(observed[v].ready, observed[v].replicas) for v in weights if v in observed}
            pods = sum(ready.values())
            if pods:
                in_force.update({v: math.floor(100 * n / pods + 0.5) for v, n in ready.items()})
        else:
            in_force[view.control] = 100
        settled = (
            view.active_selects_all
            and growing_ready
            and all(
                observed[v].replicas == count and observed[v].ready >= count if v in observed else count == 0
                for v, count in wanted.items()
            )
        )
        return SplitPlan(replicas=replicas, active=active, weights=in_force, settled=settled)


def variant_views(
    versions: Sequence[str], replicas: Mapping[str, int], ready: Mapping[str, int]
) -> tuple[VariantView, ...]:
    return tuple(VariantView(v, replicas.get(v, 0), ready.get(v, 0)) for v in versions)
