"""Emergency stop: all traffic to the stable version at once, and hold there until `resume`.

Unlike `abort`, a stop is no verdict on the candidate: it goes back to `staging`, not `rejected`,
and the hold is not lifted by a spec change either (Git pushing a new target during an incident
must not start a rollout). Every step, pause, analysis and scale-down delay of the candidate is
skipped: the stable Services switch in the pass that reads the request, as long as the stable
version has a ready pod (never a Service without one).
"""

from __future__ import annotations

from modelrollout.api.registry import EmergencyStop
from modelrollout.core import reasons
from modelrollout.core.candidate import end_candidate
from modelrollout.core.context import Pass
from modelrollout.core.steady import steady

STOP_REASON = "emergency stop"


def stop(ctx: Pass) -> None:
    """Record the stop; the candidate, if any, leaves the rollout now."""
    status = ctx.status
    candidate = status.candidate_version
    status.emergency_stop = EmergencyStop(at=ctx.now_text, stopped_version=candidate)
    status.rollback_drain = None  # a stop moves traffic at once, even from a rollback still draining
    if candidate is not None:
        end_candidate(ctx, "Stopped", STOP_REASON, "staging")
    stable = status.stable_version or "no version"
    ctx.event(reasons.EMERGENCY_STOP, f"all traffic to {stable}; holding until resume", warning=True)


def held(ctx: Pass) -> bool:
    """While a stop is in force: the stable version serves everything and nothing else happens."""
    if ctx.status.emergency_stop is None:
        return False
    stable = ctx.status.stable_version
    message = f"emergency stop: all traffic on {stable}; `resume` to continue"
    ctx.status.observed_generation = ctx.inp.generation
    if stable is None or (stable not in ctx.observed.model_versions and stable not in ctx.observed.deployments):
        # Nothing served yet: nothing to send traffic to, so only hold.
        ctx.report("Paused", "emergency stop: no stable version yet; `resume` to continue")
    else:
        steady(ctx, "Paused", message)
    ctx.condition(reasons.PAUSED, True, reasons.EMERGENCY_STOP, message)
    ctx.condition(reasons.PROGRESSING, False, reasons.EMERGENCY_STOP, message)
    return True
