"""weights.split_replicas and effective_weight: how a canary weight becomes replica counts."""

from __future__ import annotations

import pytest

from modelrollout.routing.replicas import effective_weight, split_replicas


@pytest.mark.parametrize(
    ("total", "weight", "expected"),
    [
        # weight 0 and 100 are all-or-nothing
        (4, 0, (0, 4)),
        (4, 100, (4, 0)),
        (1, 0, (0, 1)),
        (1, 100, (1, 0)),
        # rounding half up
        (4, 25, (1, 3)),
        (4, 50, (2, 2)),
        (4, 75, (3, 1)),
        (10, 15, (2, 8)),  # 1.5 -> 2
        (10, 14, (1, 9)),  # 1.4 -> 1
        (10, 25, (3, 7)),  # 2.5 -> 3
        (3, 50, (2, 1)),  # 1.5 -> 2
        (5, 50, (3, 2)),  # 2.5 -> 3
        # at least one candidate pod for any weight above 0
        (4, 1, (1, 3)),
        (10, 4, (1, 9)),
        (100, 1, (1, 99)),
        # at most total-1 below 100: the stable keeps a pod
        (4, 99, (3, 1)),
        (10, 96, (9, 1)),
        (2, 99, (1, 1)),
        # a single pod cannot carry a split: both run one
        (1, 1, (1, 1)),
        (1, 50, (1, 1)),
        (1, 99, (1, 1)),
        (2, 50, (1, 1)),
    ],
)
def test_split_replicas_table(total: int, weight: int, expected: tuple[int, int]) -> None:
    assert split_replicas(total, weight) == expected


@pytest.mark.parametrize("total", range(1, 13))
def test_split_replicas_invariants_for_every_weight(total: int) -> None:
    previous_candidate = 0
    for weight in range(101):
        candidate, stable = split_replicas(total, weight)
        assert candidate >= 0 and stable >= 0
        if 0 < weight < 100:
            assert candidate >= 1, (total, weight)
            assert stable >= 1, (total, weight)
        if total > 1 or weight in (0, 100):
            assert candidate + stable == total, (total, weight)
        else:
            assert (candidate, stable) == (1, 1)
        # a raised weight never takes a pod away from the candidate
        assert candidate >= previous_candidate, (total, weight)
        previous_candidate = candidate


@pytest.mark.parametrize(
    ("candidate_ready", "stable_ready", "expected"),
    [
        (0, 0, 0),
        (0, 4, 0),
        (4, 0, 100),
        (1, 3, 25),
        (1, 1, 50),
        (1, 2, 33),
        (2, 1, 67),  # 66.67 rounds half up
        (1, 7, 13),  # 12.5 -> 13
    ],
)
def test_effective_weight(candidate_ready: int, stable_ready: int, expected: int) -> None:
    assert effective_weight(candidate_ready, stable_ready) == expected
