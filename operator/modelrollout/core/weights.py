"""How a canary weight becomes replica counts with the `replicas` traffic router."""

from __future__ import annotations

import math


def split_replicas(total: int, weight: int) -> tuple[int, int]:
    """(candidate, stable) replicas for `weight` percent of `total`.

    The candidate gets weight% of total rounded half up, at least one pod for any weight above
    0, and at most total-1 while weight < 100 so the stable version keeps serving. Candidate plus
    stable equals `total`, except for total == 1 with 0 < weight < 100, where both run one pod:
    a single pod cannot carry a split.
    """
    if weight <= 0:
        return 0, total
    if weight >= 100:
        return total, 0
    candidate = max(1, math.floor(total * weight / 100 + 0.5))
    candidate = min(candidate, max(total - 1, 1))
    stable = max(total - candidate, 1)
    return candidate, stable


def effective_weight(candidate_ready: int, stable_ready: int) -> int:
    """Percentage of ready pods, and so of requests, that the candidate serves."""
    total = candidate_ready + stable_ready
    return 0 if total == 0 else math.floor(100 * candidate_ready / total + 0.5)
