"""The demo stops at once, saying why, when a rollout ends in a phase other than the one it waits for."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console

from modelrollout.cli.demo import Narrator, UnexpectedEndError, _promoted, _rolled_back_or_degraded


class Statuses:
    """Answers the Narrator's reads with one status after another (the last one repeats)."""

    def __init__(self, *statuses: dict[str, Any]) -> None:
        self.statuses = list(statuses)
        self.reads = 0

    def get_namespaced_custom_object(self, *args: Any) -> dict[str, Any]:
        self.reads += 1
        status = self.statuses[min(self.reads, len(self.statuses)) - 1]
        return {"metadata": {"name": "support-agent", "namespace": "demo"}, "status": status}


def narrator(source: Statuses) -> Narrator:
    return Narrator(Console(file=io.StringIO(), width=200), source)  # type: ignore[arg-type]


def test_a_healthy_version_rolled_back_stops_the_demo_at_once() -> None:
    source = Statuses(
        {"phase": "Progressing", "candidateVersion": "support-agent-2-4-0"},
        {"phase": "RolledBack", "message": "support-agent-2-4-0 rolledback: error-rate=0.09 is above max 0.05"},
    )
    waiting_for_promotion = narrator(source)
    with pytest.raises(UnexpectedEndError, match="ended in phase RolledBack: support-agent-2-4-0 rolledback"):
        waiting_for_promotion.follow(
            lambda s: s.get("phase") == "Healthy", timeout=60, wrong_end=_rolled_back_or_degraded
        )
    assert source.reads == 2  # no waiting for the timeout


def test_a_bad_version_promoted_stops_the_demo_at_once() -> None:
    source = Statuses({"phase": "Healthy", "stableVersion": "support-agent-2-5-0", "message": "promoted"})
    with pytest.raises(UnexpectedEndError, match="Healthy"):
        narrator(source).follow(lambda s: s.get("phase") == "RolledBack", wrong_end=_promoted("support-agent-2-5-0"))


def test_the_expected_end_returns() -> None:
    source = Statuses({"phase": "Progressing"}, {"phase": "RolledBack"})
    rollout = narrator(source).follow(lambda s: s.get("phase") == "RolledBack", wrong_end=_promoted("x"))
    assert rollout["status"]["phase"] == "RolledBack"
