"""`assign`: the same user stays on one version; the candidate's share follows the weight."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from modelrollout.routing.assign import RouteTableError, assign, bucket, load_table
from modelrollout.routing.userhash import route_table

USERS = [f"user-{i}" for i in range(100_000)]
STABLE = {"version": "chat-1-0-0", "label": "1.0.0", "service": "chat"}
CANDIDATE = {"version": "chat-1-1-0", "label": "1.1.0", "service": "chat-canary"}


def table(weight: int, candidate: dict[str, str] | None = CANDIDATE, salt: str = "ml/chat") -> dict[str, Any]:
    return route_table(
        rollout="chat", namespace="ml", header="x-user-id", salt=salt, stable=STABLE, candidate=candidate, weight=weight
    )


def on_candidate(weight: int, salt: str = "ml/chat") -> set[str]:
    routes = table(weight, salt=salt)
    return {user for user in USERS if assign(user, routes)["version"] == CANDIDATE["version"]}


def test_the_same_user_gets_the_same_version_in_every_call() -> None:
    routes = table(30)
    first = {user: assign(user, routes)["version"] for user in USERS[:2000]}
    again = {user: assign(user, routes)["version"] for user in USERS[:2000]}
    assert first == again


def test_the_same_user_gets_the_same_version_in_another_process() -> None:
    """Python's hash() is salted per process; the bucket must not be."""
    routes = table(30)
    users = USERS[:500]
    here = [assign(user, routes)["version"] for user in users]
    program = (
        "import json, sys\n"
        "from modelrollout.routing.assign import assign\n"
        "routes, users = json.load(sys.stdin)\n"
        "print(json.dumps([assign(u, routes)['version'] for u in users]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        input=json.dumps([routes, users]),
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345"},
    )
    assert json.loads(result.stdout) == here


@pytest.mark.parametrize("weight", [1, 5, 10, 20, 50, 90])
def test_the_candidate_share_of_100000_users_is_within_a_point_of_the_weight(weight: int) -> None:
    share = 100 * len(on_candidate(weight)) / len(USERS)
    assert abs(share - weight) <= 1, share


def test_raising_the_weight_moves_no_user_back_to_stable() -> None:
    at_10 = on_candidate(10)
    at_20 = on_candidate(20)
    assert at_10 <= at_20
    assert len(at_20) > len(at_10)


def test_a_rollback_sends_everyone_to_stable() -> None:
    rolled_back = table(0, candidate=None)
    assert {assign(user, rolled_back)["version"] for user in USERS[:5000]} == {STABLE["version"]}
    assert {assign(user, table(0))["version"] for user in USERS[:5000]} == {STABLE["version"]}


def test_weight_100_sends_everyone_to_the_candidate() -> None:
    assert {assign(user, table(100))["version"] for user in USERS[:5000]} == {CANDIDATE["version"]}


def test_another_salt_picks_other_users() -> None:
    assert on_candidate(10, salt="a") != on_candidate(10, salt="b")


def test_buckets_are_pinned() -> None:
    """Test vectors for anyone porting `assign` to another language (sha256 of salt, NUL, user id;
    first 8 bytes big-endian, modulo 10,000)."""
    assert [bucket(user, "ml/chat") for user in ("alice", "bob", "")] == [3417, 6928, 5805]


def test_tables_round_trip_and_bad_tables_are_named() -> None:
    assert load_table(json.dumps(table(10))) == table(10)
    with pytest.raises(RouteTableError, match="not JSON"):
        load_table("{")
    with pytest.raises(RouteTableError, match="no stable entry"):
        load_table("{}")
    with pytest.raises(RouteTableError, match="no stable entry"):
        assign("u", {"weight": 10})


def test_assign_imports_nothing_but_the_standard_library() -> None:
    """Applications copy the file: it must not pull in the operator or its dependencies."""
    program = (
        "import sys, runpy\n"
        "before = set(sys.modules)\n"
        "runpy.run_path(sys.argv[1])\n"
        "extra = {m.split('.')[0] for m in set(sys.modules) - before} - set(sys.stdlib_module_names)\n"
        "print(sorted(extra))\n"
    )
    import modelrollout.routing.assign as module

    result = subprocess.run(
        [sys.executable, "-I", "-c", program, module.__file__ or ""], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
