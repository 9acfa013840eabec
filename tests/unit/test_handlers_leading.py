"""Only a leading replica runs passes; leader election settings are consistent."""

from __future__ import annotations

import asyncio
import threading

import pytest
from pydantic import ValidationError

from modelrollout.api.settings import LeaderElection, OperatorSettings
from modelrollout.handlers.workers import WorkerRegistry


def test_a_standby_runs_no_pass_until_it_leads_and_none_after() -> None:
    passes: list[tuple[str, str]] = []
    ran = threading.Event()

    def run_pass(namespace: str, name: str) -> float:
        passes.append((namespace, name))
        ran.set()
        return 60.0

    async def scenario() -> None:
        registry = WorkerRegistry(run_pass, max_threads=2, leading=False)
        registry.wake("ml", "chat")
        await asyncio.sleep(0.1)
        assert passes == [] and registry.workers == {}
        registry.lead([("ml", "chat"), ("ml", "tts")])
        await asyncio.sleep(0.3)
        assert sorted(passes) == [("ml", "chat"), ("ml", "tts")]
        await registry.follow()
        assert registry.workers == {}
        registry.wake("ml", "chat")
        await asyncio.sleep(0.1)
        assert len(passes) == 2, "a replica that lost the lease acts no more"
        await registry.stop_all()

    asyncio.run(scenario())


def test_leader_election_is_off_by_default_and_reads_camel_case() -> None:
    assert not OperatorSettings().leader_election.enabled
    settings = OperatorSettings.model_validate({"leaderElection": {"enabled": True, "leaseSeconds": 15}})
    assert settings.leader_election.enabled and settings.leader_election.lease_seconds == 15


@pytest.mark.parametrize(
    ("lease", "renew", "retry"), [(10, 10, 2), (10, 12, 2), (10, 7, 6)], ids=["renew=lease", "renew>lease", "retry"]
)
def test_a_leader_must_give_up_before_a_standby_may_take_over(lease: int, renew: int, retry: int) -> None:
    with pytest.raises(ValidationError, match="leaseSeconds > renewSeconds"):
        LeaderElection(lease_seconds=lease, renew_seconds=renew, retry_seconds=retry)
