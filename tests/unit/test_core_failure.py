"""A refused action: the last status stays, ActionFailed says why, news once, retries back off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from modelrollout.api.rollout import RolloutStatus
from modelrollout.core import reasons
from modelrollout.core.conditions import get_condition
from modelrollout.core.failure import MAX_RETRY_SECONDS, applied_status, failed_status

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
QUOTA = "creating Service chat: exceeded quota (HTTP 403)"


def test_a_failure_keeps_the_phase_and_says_why_once() -> None:
    before = RolloutStatus(phase="Initializing", message="waiting for chat-1 to become ready")
    status, news, _ = failed_status(before, 3, QUOTA, T0)
    assert news
    assert status.phase == "Initializing" and status.message == before.message
    condition = get_condition(status.conditions, reasons.ACTION_FAILED)
    assert condition is not None
    assert (condition.status, condition.reason, condition.message) == ("True", reasons.API_ERROR, QUOTA)
    assert before.conditions == [], "the input is left as it was"
    again, news, _ = failed_status(status, 3, QUOTA, T0 + timedelta(seconds=5))
    assert not news, "the same failure is not news"
    other, news, _ = failed_status(again, 3, "pointing Service chat: forbidden (HTTP 403)", T0 + timedelta(seconds=9))
    assert news, "a different failure is"
    assert get_condition(other.conditions, reasons.ACTION_FAILED).last_transition_time == condition.last_transition_time


def test_retries_back_off_exponentially_up_to_a_bound() -> None:
    status, _, retry = failed_status(RolloutStatus(), 1, QUOTA, T0)
    now = T0
    delays = [retry]
    for _ in range(10):
        now += timedelta(seconds=retry)
        status, _, retry = failed_status(status, 1, QUOTA, now)
        delays.append(retry)
    assert delays[:5] == [5, 5, 10, 20, 40]
    assert max(delays) == MAX_RETRY_SECONDS


@pytest.mark.parametrize("failing", [True, False])
def test_a_pass_that_applied_everything_clears_a_failure(failing: bool) -> None:
    status = RolloutStatus(phase="Healthy")
    if failing:
        status, _, _ = failed_status(status, 1, QUOTA, T0)
    cleared = applied_status(status, 1, T0 + timedelta(seconds=30))
    condition = get_condition(cleared.conditions, reasons.ACTION_FAILED)
    if failing:
        assert condition is not None and condition.status == "False"
        assert condition.reason == reasons.ACTIONS_APPLIED
    else:
        assert cleared is status, "nothing to clear, nothing written"
