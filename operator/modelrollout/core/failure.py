"""Status when the cluster refused an action: the pass's decision is dropped, the failure is shown.

A pass applies its actions before it writes its status, so a refused write (a 403, a 422, a
full Service IP range) leaves the status of the last pass that worked: no stage the cluster never
reached, no Event for a switch that never happened. The failure itself goes into the
`ActionFailed` condition with the API server's message, and retries back off exponentially.
"""

from __future__ import annotations

from datetime import datetime

from modelrollout.api.common import format_time, parse_time
from modelrollout.api.rollout import RolloutStatus
from modelrollout.core import reasons
from modelrollout.core.conditions import get_condition, set_condition

FIRST_RETRY_SECONDS = 5.0
MAX_RETRY_SECONDS = 300.0


def failed_status(
    status: RolloutStatus, generation: int, message: str, now: datetime
) -> tuple[RolloutStatus, bool, float]:
    """The last status with ActionFailed=True; whether this failure is news (worth one Warning
    Event); and seconds until the next attempt (doubling while the same failure lasts)."""
    previous = get_condition(status.conditions, reasons.ACTION_FAILED)
    failing = previous is not None and previous.status == "True"
    news = not failing or previous is None or previous.message != message
    result = status.model_copy(deep=True)
    result.conditions = set_condition(
        result.conditions, reasons.ACTION_FAILED, "True", reasons.API_ERROR, message, format_time(now), generation
    )
    since = parse_time(previous.last_transition_time) if failing and previous is not None else now
    # Waiting as long as the failure has lasted doubles the interval from one attempt to the next.
    retry = min(MAX_RETRY_SECONDS, max(FIRST_RETRY_SECONDS, (now - since).total_seconds()))
    return result, news, retry


def applied_status(status: RolloutStatus, generation: int, now: datetime) -> RolloutStatus:
    """After a pass whose actions all succeeded: a standing ActionFailed turns False."""
    previous = get_condition(status.conditions, reasons.ACTION_FAILED)
    if previous is None or previous.status != "True":
        return status
    result = status.model_copy(deep=True)
    result.conditions = set_condition(
        result.conditions,
        reasons.ACTION_FAILED,
        "False",
        reasons.ACTIONS_APPLIED,
        "the last pass applied all its actions",
        format_time(now),
        generation,
    )
    return result
