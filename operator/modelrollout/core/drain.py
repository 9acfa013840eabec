"""Rollback without a capacity drop: traffic leaves a rolled-back candidate as stable capacity allows (pure).

A canary at 60 % of 5 replicas runs 3 candidate pods and 2 stable ones. Switching every request
to stable in the pass that rolls back would leave 2 pods carrying the full load until 3 new
ones have loaded their model, which may take minutes, in the middle of an incident. So whenever
a candidate leaves without promotion (rollback, abort, deadline, A/B keep, target set back; not an
emergency stop, not a new target):

- the stable version scales back to spec.replicas first (`steady` asks for it);
- traffic leaves the candidate at once when the stable version's READY pods reach
  `spec.rollbackPolicy.minReadyPercent` of spec.replicas (`criticalMinReadyPercent` for a
  critical metric breach); otherwise the candidate keeps serving the share the stable pods
  cannot carry yet, and the switch happens as soon as they can, or after `maxWaitSeconds`;
- with the replicas router the share moves by itself as stable pods become ready (both
  versions stay behind the stable Service, weight = share of ready pods); a router with a route
  object lowers the candidate's weight to the share the ready stable pods leave uncovered;
- a version without a ready pod is never pointed at: a candidate that loses its pods ends the
  wait at once, and a stable version without one is never switched to.

The wait lives in `status.rollbackDrain`; the `StableCapacity` condition and two Events (one
when the wait starts, one when traffic moved) say where it stands.
"""

from __future__ import annotations

import math

from modelrollout.api.rollback import RollbackDrain
from modelrollout.core import naming, reasons
from modelrollout.core.context import Pass
from modelrollout.core.trafficrouting import router, split
from modelrollout.routing.replicas import effective_weight


def threshold_percent(ctx: Pass, critical: bool) -> int:
    policy = ctx.spec.rollback_policy
    if critical and policy.critical_min_ready_percent is not None:
        return policy.critical_min_ready_percent
    return policy.min_ready_percent


def required_ready(replicas: int, percent: int) -> int:
    """Ready stable pods that carry every request: `percent` of `replicas`, rounded up, at least one."""
    return max(1, math.ceil(replicas * percent / 100))


def candidate_share(ctx: Pass, version: str) -> int:
    """Percentage of requests `version` serves now, as observed, whichever router the Rollout uses."""
    stable = ctx.status.stable_version
    label = ctx.label(version)
    ready = ctx.observed.ready(version)
    if stable is None or label is None or ready < 1:
        return 0
    name = ctx.inp.name
    if ctx.spec.strategy.canary is not None and router(ctx).has_route:
        weight = ctx.observed.route.weight or 0
        return weight if ctx.selects(naming.canary_service(name), label) else 0
    active = naming.active_service(name)
    if ctx.selects(active, label):
        return 100
    if ctx.selects(active, None):
        return effective_weight(ready, ctx.observed.ready(stable))
    return 0


def begin(ctx: Pass, critical: bool) -> None:
    """At a rollback, before the candidate is cleared: wait for stable capacity, or leave at once."""
    candidate = ctx.status.candidate_version
    stable = ctx.status.stable_version
    if candidate is None or stable is None:
        return
    replicas = ctx.spec.replicas
    percent = threshold_percent(ctx, critical)
    required = required_ready(replicas, percent)
    stable_ready = ctx.observed.ready(stable)
    share = candidate_share(ctx, candidate)
    if share == 0 or stable_ready >= required:
        ctx.status.rollback_drain = None
        if share > 0:
            ctx.condition(
                reasons.STABLE_CAPACITY,
                True,
                reasons.STABLE_CAPACITY_READY,
                f"traffic left {candidate} at once: {stable_ready}/{replicas} of {stable} ready"
                f" (minReadyPercent {percent})",
            )
        return
    ctx.status.rollback_drain = RollbackDrain(
        version=candidate,
        since=ctx.now_text,
        min_ready_percent=percent,
        required_ready=required,
        stable_ready=stable_ready,
        candidate_percent=share,
    )
    ctx.event(
        reasons.WAITING_FOR_STABLE_CAPACITY,
        f"{candidate} keeps serving {share}% until {required}/{replicas} pods of {stable} are ready"
        f" (now {stable_ready}; minReadyPercent {percent})",
    )


def hold(ctx: Pass, message: str | None) -> tuple[str | None, str | None]:
    """While a rollback waits for stable capacity: keep the rolled-back candidate serving what the
    stable version cannot carry yet. Returns the version kept serving (None once every request
    may go to stable) and the message to report (`message`, the rollback's own, once it is over)."""
    drain = ctx.status.rollback_drain
    stable = ctx.status.stable_version
    if drain is None or stable is None:
        return None, message
    if drain.message is None:
        drain.message = message  # the rollback's reason, said again when the wait is over
    old = drain.version
    replicas = ctx.spec.replicas
    stable_ready = ctx.observed.ready(stable)
    share = candidate_share(ctx, old)
    waited = ctx.since(drain.since)
    limit = ctx.spec.rollback_policy.max_wait_seconds
    after: str | None = None
    if share == 0:
        after = f"{old} no longer serves, after {waited:.0f}s"
    elif stable_ready >= drain.required_ready:
        after = f"after {waited:.0f}s"
    elif waited >= limit and stable_ready >= 1:
        after = f"after maxWaitSeconds {limit}"
    if after is not None:
        finish(ctx, drain, stable_ready, after)
        return None, drain.message
    ctx.ensure(old, ctx.observed.replicas(old))
    if ctx.spec.strategy.canary is not None and router(ctx).has_route:
        # The route carries the candidate's weight: lower it to what ready stable pods leave uncovered.
        uncovered = math.ceil(100 * max(replicas - stable_ready, 0) / replicas)
        share = min(share, uncovered)
        split(ctx, old, share)
    # Otherwise the Services stay as they are: with both versions behind the stable Service the
    # candidate's share shrinks by itself as stable pods become ready.
    drain.stable_ready = stable_ready
    drain.candidate_percent = share
    waiting = (
        f"waiting for stable capacity {stable_ready}/{replicas} ready (need {drain.required_ready});"
        f" rolled-back {old} still serves {share}%"
    )
    ctx.condition(reasons.STABLE_CAPACITY, False, reasons.WAITING_FOR_STABLE_CAPACITY, waiting)
    ctx.wait()
    return old, f"{drain.message}; {waiting}" if drain.message else waiting


def finish(ctx: Pass, drain: RollbackDrain, stable_ready: int, after: str) -> None:
    """Every request to the stable version from this pass on."""
    stable = ctx.status.stable_version
    replicas = ctx.spec.replicas
    ctx.status.rollback_drain = None
    short = stable_ready < drain.required_ready
    message = f"all traffic on {stable} with {stable_ready}/{replicas} ready ({after}); {drain.version} scales down"
    ctx.condition(
        reasons.STABLE_CAPACITY,
        not short,
        reasons.STABLE_CAPACITY_SHORT if short else reasons.STABLE_CAPACITY_READY,
        message,
    )
    ctx.event(reasons.TRAFFIC_RETURNED, message, warning=short)
