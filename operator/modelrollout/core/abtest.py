"""A/B test: every variant serves its share, the statistics decide, the outcome follows.

The decision itself comes from analysis (`status.abTest`, written by the A/B look before the pass);
this module holds the split, removes variants that breach a critical threshold, and acts on the
decision: `upgrade` promotes the winner (at once with promoteWinner, else on `promote`), `keep`
returns all traffic to the control, `inconclusive` at maxDuration promotes nothing.
"""

from __future__ import annotations

from modelrollout.api.modelversion import LifecycleStage
from modelrollout.api.rollout import ABTestStatus, Outcome
from modelrollout.core import naming, reasons
from modelrollout.core.abtest_routes import hold_route_split, on_route, promote_on_route, route_variant_views
from modelrollout.core.candidate import deadline_exceeded, end_candidate, promote
from modelrollout.core.context import Pass
from modelrollout.core.pause import keep_current_shape, pause
from modelrollout.core.steady import steady
from modelrollout.core.trafficrouting import promote_traffic
from modelrollout.routing.factory import splitter_for
from modelrollout.routing.split import SplitView, renormalise, variant_views


def ab_test(ctx: Pass) -> None:
    """Hold the split and act on the decision."""
    strategy = ctx.spec.strategy.ab_test
    assert strategy is not None
    status = ctx.status
    control = status.stable_version
    assert control is not None and status.candidate_version is not None
    state = status.ab_test or ABTestStatus()
    status.ab_test = state
    versions = [variant.version for variant in strategy.variants]
    if control not in versions:
        message = (
            f"spec.strategy.abTest.variants must list the stable version {control}: it is the control every "
            "other variant is compared with"
        )
        ctx.report("Degraded", message)
        ctx.condition(reasons.PROGRESSING, False, reasons.AB_CONTROL_MISSING, message)
        keep_current_shape(ctx)
        return
    if state.decision == "upgrade" and state.winner and (strategy.promote_winner or state.promotion_approved):
        finish(ctx, state.winner, f"won the A/B test ({state.reason}; confidence {state.confidence})")
        return
    if state.promotion_approved and state.decision is None:
        finish(ctx, status.candidate_version, "promoted by a user during the A/B test")
        return
    announce_removals(ctx, state)
    removed = {removal.version for removal in state.removed}
    challengers = [v for v in versions if v != control and v not in removed]
    if state.decision == "keep" or not challengers:
        reason = state.reason if state.decision == "keep" else "every challenger breached a critical threshold"
        conclude(ctx, "RolledBack", f"A/B test: keep {control}: {reason}", "rejected")
        return
    if state.decision == "inconclusive":
        conclude(ctx, "Cancelled", f"A/B test: {state.reason}; nothing promoted", "staging")
        return
    if not hold_split(ctx, {v.version: v.weight for v in strategy.variants if v.version not in removed}):
        return
    if state.decision == "upgrade":
        assert state.winner is not None
        message = (
            f"A/B test: upgrade to {state.winner} (confidence {state.confidence}): {state.reason}; "
            "promote it with `kubectl modelrollout promote`"
        )
        if ctx.inp.status.pause_reason != message:
            ctx.event("ABTestDecided", message)
        pause(ctx, message, reasons.AB_TEST_DECIDED)
        ctx.wait(15)
        return
    needs = "; ".join(m.needs for m in state.metrics if not m.guardrail and m.needs)
    message = f"A/B test of {', '.join(versions)}: {state.reason or 'collecting'}" + (f"; {needs}" if needs else "")
    ctx.report("Progressing", message)
    ctx.condition(reasons.PROGRESSING, True, reasons.AB_TEST_RUNNING, message)
    ctx.condition(reasons.PAUSED, False, reasons.NOT_PAUSED, "")
    ctx.condition(reasons.COMPLETED, False, reasons.ROLLOUT_IN_PROGRESS, "")
    ctx.wait(5)


def hold_split(ctx: Pass, weights: dict[str, int]) -> bool:
    """Move towards the split; True once every variant serves its share (the test's clock runs from then)."""
    strategy = ctx.spec.strategy.ab_test
    assert strategy is not None
    status = ctx.status
    state = status.ab_test
    control = status.stable_version
    assert state is not None and control is not None
    splitter = splitter_for(strategy.traffic_routing)
    versions = [v.version for v in strategy.variants]
    observed = ctx.observed
    view = SplitView(
        total=ctx.spec.replicas,
        control=control,
        variants=route_variant_views(ctx, versions)
        if on_route(ctx)
        else variant_views(
            versions, {v: observed.replicas(v) for v in versions}, {v: observed.ready(v) for v in versions}
        ),
        active_selects_all=ctx.selects(naming.active_service(ctx.inp.name), None),
        others_drained=ctx.others_drained(set(versions)),
    )
    shares = renormalise(weights)
    plan = splitter.split(view, {v: shares.get(v, 0) for v in versions})
    for version in versions:  # scale-ups first: the plan already holds shrinking sides until others are ready
        ctx.ensure(version, plan.replicas.get(version, 0))
    if plan.route is not None:
        hold_route_split(ctx, plan.route, shares)
    else:
        ctx.point("active", None if plan.active == "all" else control)
    status.canary_weight = 100 - plan.weights.get(control, 0)
    if state.started_at is not None:
        return True
    if plan.settled:
        state.started_at = ctx.now_text
        status.progress_at = ctx.now_text
        split = ", ".join(f"{v} {shares.get(v, 0)}%" for v in versions)
        ctx.event("ABTestStarted", f"A/B test started: {split}")
        return True
    message = f"A/B test: starting {', '.join(versions)}"
    ctx.in_progress("Progressing", message)
    deadline_exceeded(ctx, f"A/B variants {', '.join(versions)}")
    return False


def announce_removals(ctx: Pass, state: ABTestStatus) -> None:
    """An Event for each variant analysis took out of traffic (once: `announced` records it)."""
    for removal in state.removed:
        if not removal.announced:
            removal.announced = True
            ctx.event("VariantRemoved", f"{removal.version} removed from the A/B test: {removal.reason}", warning=True)
            ctx.stage(removal.version, "rejected", removal.reason)


def finish(ctx: Pass, winner: str, reason: str) -> None:
    """The winner takes all traffic through the normal promotion path, then the test is over."""
    status = ctx.status
    candidate = status.candidate_version
    state = status.ab_test
    assert candidate is not None and state is not None
    if winner == status.stable_version:
        conclude(ctx, "Cancelled", f"A/B test: {winner} (the control) stays", "staging")
        return
    if winner != candidate:
        # Another challenger won: it becomes the version being promoted; the target was not chosen.
        ctx.stage(candidate, "staging", f"{winner} won the A/B test")
        status.candidate_version = winner
    settled = promote_on_route(ctx, winner) if on_route(ctx) else promote_traffic(ctx).settled
    if not settled:
        ctx.in_progress("Promoting", f"A/B winner {winner}: scaling to {ctx.spec.replicas} replicas")
        deadline_exceeded(ctx, f"{winner} at {ctx.spec.replicas} replicas")
        return
    state.concluded_generation = ctx.inp.generation
    ctx.event("ABTestConcluded", f"{winner} {reason}")
    promote(ctx, reason)


def conclude(ctx: Pass, outcome: Outcome, reason: str, stage: LifecycleStage) -> None:
    """The test ends without promotion: every request back to the control."""
    state = ctx.status.ab_test
    assert state is not None
    state.concluded_generation = ctx.inp.generation
    ctx.event("ABTestConcluded", reason, warning=outcome == "RolledBack")
    end_candidate(ctx, outcome, reason, stage)
    steady(ctx, "Healthy", message=reason)


def concluded(ctx: Pass) -> bool:
    """An A/B test already ended for this generation: the control (or the winner) serves; no new test."""
    state = ctx.status.ab_test
    if ctx.spec.strategy.ab_test is None or state is None or state.concluded_generation != ctx.inp.generation:
        return False
    if ctx.status.candidate_version is not None:
        return False
    steady(ctx, "Healthy", message=ctx.status.message)
    return True


def ab_variants(ctx: Pass) -> set[str]:
    """Variants still in the test: cleanup leaves them running (removed ones scale down here)."""
    strategy = ctx.spec.strategy.ab_test
    state = ctx.status.ab_test
    if strategy is None or ctx.status.candidate_version is None or state is None:
        return set()
    if state.decision in ("keep", "inconclusive") or state.concluded_generation is not None:
        return set()
    removed = {removal.version for removal in state.removed}
    return {v.version for v in strategy.variants if v.version not in removed}


def promoting_winner(ctx: Pass) -> bool:
    """Another variant than spec.targetVersion won and is being promoted: it stays the candidate."""
    state = ctx.status.ab_test
    candidate = ctx.status.candidate_version
    strategy = ctx.spec.strategy.ab_test
    if strategy is None or state is None or candidate is None or state.decision != "upgrade":
        return False
    return state.winner == candidate and candidate in {v.version for v in strategy.variants}
