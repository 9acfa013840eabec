"""Conditions in Kubernetes API conventions: one per type, lastTransitionTime moves on status change only."""

from __future__ import annotations

import pytest

from modelrollout.api.common import Condition, ConditionStatus
from modelrollout.core.conditions import get_condition, is_true, set_condition

T1 = "2026-03-01T12:00:00Z"
T2 = "2026-03-01T12:05:00Z"


def cond(type_: str, status: ConditionStatus, reason: str = "R", message: str = "", generation: int = 1) -> Condition:
    return Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=T1,
        observed_generation=generation,
    )


@pytest.mark.parametrize(
    ("before", "status", "reason", "expected_time"),
    [
        pytest.param(None, "True", "New", T2, id="new-condition-gets-now"),
        pytest.param("True", "True", "Same", T1, id="same-status-keeps-time"),
        pytest.param("True", "True", "OtherReason", T1, id="reason-change-keeps-time"),
        pytest.param("True", "False", "Flipped", T2, id="status-change-moves-time"),
        pytest.param("False", "Unknown", "Unsure", T2, id="to-unknown-moves-time"),
        pytest.param("Unknown", "True", "Known", T2, id="from-unknown-moves-time"),
    ],
)
def test_set_condition_transition_time(
    before: ConditionStatus | None, status: ConditionStatus, reason: str, expected_time: str
) -> None:
    conditions = [cond("Other", "True")]
    if before is not None:
        conditions.append(cond("Available", before, message="old"))
    result = set_condition(conditions, "Available", status, reason, "new message", T2, 7)
    available = get_condition(result, "Available")
    assert available is not None
    assert available.status == status
    assert available.reason == reason
    assert available.message == "new message"
    assert available.last_transition_time == expected_time
    assert available.observed_generation == 7  # always the generation it was computed from
    # one condition per type; others untouched and in place
    assert [c.type for c in result] == ["Other", "Available"]
    assert result[0] == conditions[0]
    # the input list is not mutated
    if before is not None:
        assert conditions[1].message == "old"


def test_set_condition_keeps_order_of_existing_types() -> None:
    conditions = [cond("A", "True"), cond("B", "True"), cond("C", "True")]
    result = set_condition(conditions, "B", "False", "X", "", T2, 2)
    assert [c.type for c in result] == ["A", "B", "C"]


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ([], False),
        ([cond("Paused", "True")], True),
        ([cond("Paused", "False")], False),
        ([cond("Paused", "Unknown")], False),
        ([cond("Other", "True")], False),
    ],
)
def test_is_true(conditions: list[Condition], expected: bool) -> None:
    assert is_true(conditions, "Paused") is expected
