"""A/B splits on a route object, pure: the multi-variant route table with `assign`, the splitter's
plan, and the HTTPRoute backendRefs of every variant."""

from __future__ import annotations

import copy
from collections import Counter
from typing import Any

import pytest

from modelrollout.adapters.httproute import Backends, http_route_backends, http_route_patch, http_route_split_patch
from modelrollout.routing.assign import assign
from modelrollout.routing.route_split import RouteSplitter
from modelrollout.routing.split import SplitView, VariantView
from modelrollout.routing.userhash import variant_table

USERS = [f"user-{i}" for i in range(60_000)]
A, B, C = "chat-1-0-0", "chat-1-1-0", "chat-1-2-0"
SERVICES = {A: "chat", B: "chat-ab-1", C: "chat-ab-2"}
LABELS = {A: "1.0.0", B: "1.1.0", C: "1.2.0"}


def table(weights: dict[str, int], shares: dict[str, int] | None = None) -> dict[str, Any]:
    """Challengers first, the control (A) last, as the core orders them."""
    shares = shares or weights
    order = [v for v in weights if v != A] + [A]
    return variant_table(
        rollout="chat",
        namespace="ml",
        header="x-user-id",
        salt="ml/chat",
        variants=[
            {"version": v, "label": LABELS[v], "service": SERVICES[v], "weight": weights[v], "share": shares[v]}
            for v in order
        ],
    )


def assigned(routes: dict[str, Any], users: list[str] = USERS) -> dict[str, str]:
    return {user: assign(user, routes)["version"] for user in users}


def test_each_user_is_on_exactly_one_variant_and_stays_there() -> None:
    routes = table({A: 40, B: 30, C: 30})
    first = assigned(routes)
    assert first == assigned(routes), "same table, same variant for every user"
    assert assigned(copy.deepcopy(routes)) == first, "a copy of the table (another reader) agrees"
    assert set(first.values()) == {A, B, C}


@pytest.mark.parametrize("weights", [{A: 40, B: 30, C: 30}, {A: 50, B: 25, C: 25}, {A: 10, B: 80, C: 10}])
def test_shares_follow_the_weights(weights: dict[str, int]) -> None:
    counts = Counter(assigned(table(weights)).values())
    for version, weight in weights.items():
        # 60,000 users: one standard deviation of a share is under 0.21 points; 1.5 points is > 7 of them.
        assert abs(100 * counts[version] / len(USERS) - weight) < 1.5, (version, counts)


def test_buckets_are_fixed_ranges_covering_every_user_once() -> None:
    variants = table({A: 40, B: 30, C: 30})["variants"]
    assert [(v["version"], v["buckets"]) for v in variants] == [(B, [0, 3000]), (C, [3000, 6000]), (A, [6000, 10000])]


def test_removing_a_variant_moves_only_its_users_spread_by_the_others_shares() -> None:
    before = assigned(table({A: 40, B: 30, C: 30}))
    after = assigned(table({A: 57, B: 43, C: 0}, shares={A: 40, B: 30, C: 30}))
    moved = [user for user in USERS if before[user] != after[user]]
    assert all(before[user] == C for user in moved), "users of A and B stay where they were"
    assert C not in after.values()
    went = Counter(after[user] for user in moved)
    assert abs(went[A] / len(moved) - 40 / 70) < 0.03, went  # spread 40:30 like the remaining shares


def test_a_variant_back_in_traffic_gets_its_own_users_back() -> None:
    full = table({A: 40, B: 30, C: 30})
    without_c = table({A: 57, B: 43, C: 0}, shares={A: 40, B: 30, C: 30})
    users = USERS[:5000]
    before = assigned(full, users)
    during = assigned(without_c, users)
    assert {u for u in users if during[u] != before[u]} == {u for u in users if before[u] == C}
    assert assigned(full, users) == before, "the table alone decides: C's own users return to it"


def test_only_the_control_serving_is_the_idle_table() -> None:
    routes = table({A: 100, B: 0, C: 0}, shares={A: 40, B: 30, C: 30})
    assert routes["candidate"] is None and routes["weight"] == 0 and "variants" not in routes
    assert set(assigned(routes, USERS[:500]).values()) == {A}


def test_a_two_version_reader_still_splits_the_first_challenger() -> None:
    """`candidate` and `weight` name the first variant, whose buckets come first: an older assign
    that only knows stable/candidate agrees with the new one on it."""
    routes = table({A: 70, B: 30})
    legacy = {k: v for k, v in routes.items() if k != "variants"}
    users = USERS[:5000]
    assert assigned(legacy, users) == assigned(routes, users)


# ------------------------------------------------------------------------------ the splitter


def view(variants: list[VariantView], total: int = 10) -> SplitView:
    return SplitView(total=total, control=A, variants=tuple(variants), active_selects_all=False, others_drained=True)


def variant(version: str, replicas: int, ready: int, route: int | None, selected: bool = True) -> VariantView:
    return VariantView(version, replicas, ready, selected=selected, route=route)


WEIGHTS = {A: 40, B: 30, C: 30}


def test_the_split_goes_on_the_route_only_once_every_variant_is_ready() -> None:
    splitter = RouteSplitter("gatewayAPI")
    plan = splitter.split(view([variant(A, 10, 10, 100), variant(B, 3, 3, 0), variant(C, 3, 1, 0)]), WEIGHTS)
    assert plan.route == {A: 100, B: 0, C: 0}, "C has 1 of its 3 pods ready"
    assert plan.replicas == {A: 10, B: 3, C: 3}, "the control keeps full size; each other variant its share"
    assert not plan.settled and plan.weights == {A: 100, B: 0, C: 0}
    plan = splitter.split(view([variant(A, 10, 10, 100), variant(B, 3, 3, 0), variant(C, 3, 3, 0)]), WEIGHTS)
    assert plan.route == WEIGHTS and not plan.settled, "written, not yet observed"
    plan = splitter.split(view([variant(A, 10, 10, 40), variant(B, 3, 3, 30), variant(C, 3, 3, 30)]), WEIGHTS)
    assert plan.settled and plan.weights == WEIGHTS


def test_a_service_not_yet_selecting_its_variant_gets_no_share() -> None:
    plan = RouteSplitter("userHash").split(
        view([variant(A, 10, 10, 100), variant(B, 3, 3, 0), variant(C, 3, 3, 0, selected=False)]), WEIGHTS
    )
    assert plan.route == {A: 100, B: 0, C: 0}


def test_a_removed_variant_drops_to_zero_at_once_then_shrinks() -> None:
    splitter = RouteSplitter("gatewayAPI")
    running = [variant(A, 10, 10, 40), variant(B, 3, 3, 30), variant(C, 3, 3, 30)]
    removed = {A: 57, B: 43, C: 0}
    plan = splitter.split(view(running), removed)
    assert plan.route == {A: 70, B: 30, C: 0}, "C to 0 at once; the control takes it until B has the pods"
    assert plan.replicas == {A: 10, B: 5, C: 3}, "C keeps its pods while the route still sends it requests"
    grown = [variant(A, 10, 10, 70), variant(B, 5, 5, 30), variant(C, 3, 3, 0)]
    assert splitter.split(view(grown), removed).route == removed, "B takes its renormalised share once ready"
    observed = [variant(A, 10, 10, 57), variant(B, 5, 5, 43), variant(C, 3, 3, 0)]
    assert splitter.split(view(observed), removed).replicas[C] == 3, "and while its Service selects it"
    observed[2] = variant(C, 3, 3, 0, selected=False)
    assert splitter.split(view(observed), removed).replicas[C] == 0


def test_a_variant_that_lost_every_ready_pod_gets_no_share() -> None:
    plan = RouteSplitter("gatewayAPI").split(
        view([variant(A, 10, 10, 40), variant(B, 3, 0, 30), variant(C, 3, 3, 30)]), WEIGHTS
    )
    assert plan.route == {A: 70, B: 0, C: 30}


# ------------------------------------------------------------------------------ HTTPRoute

NS = "ml"
BACKENDS = Backends(stable="chat", canary="chat-canary", port=80, variant_prefix="chat-ab-")
OTHER = {"matches": [{"path": {"value": "/health"}}], "backendRefs": [{"name": "health", "port": 8080}]}
MANAGED = {"matches": [{"path": {"value": "/v1"}}], "backendRefs": [{"name": "chat", "port": 80}, {"name": "x"}]}


def route(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "r", "resourceVersion": "7"}, "spec": {"rules": list(rules)}}


def patched(obj: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    result = copy.deepcopy(obj)
    for op in ops[1:]:
        index = int(op["path"].split("/")[3])
        result["spec"]["rules"][index]["backendRefs"] = op["value"]
    return result


def test_three_variants_get_one_backend_each_with_exact_weights() -> None:
    before = route(OTHER, MANAGED)
    after = patched(
        before, http_route_split_patch(before, BACKENDS, NS, {"chat-ab-1": 30, "chat-ab-2": 30, "chat": 40})
    )
    assert after["spec"]["rules"][1]["backendRefs"] == [
        {"name": "chat", "port": 80, "weight": 40},
        {"name": "x"},
        {"group": "", "kind": "Service", "name": "chat-ab-1", "port": 80, "weight": 30},
        {"group": "", "kind": "Service", "name": "chat-ab-2", "port": 80, "weight": 30},
    ]
    assert after["spec"]["rules"][0] == OTHER
    assert http_route_backends(after, BACKENDS, NS) == {"chat": 40, "chat-ab-1": 30, "chat-ab-2": 30}
    weights = {"chat-ab-1": 30, "chat-ab-2": 30, "chat": 40}
    assert http_route_split_patch(after, BACKENDS, NS, weights) == [], "in place: no write"


def test_a_removed_variant_is_weighted_zero_and_the_end_drops_every_variant_backend() -> None:
    before = route(MANAGED)
    running = patched(
        before, http_route_split_patch(before, BACKENDS, NS, {"chat-ab-1": 30, "chat-ab-2": 30, "chat": 40})
    )
    removed = patched(
        running, http_route_split_patch(running, BACKENDS, NS, {"chat-ab-1": 43, "chat-ab-2": 0, "chat": 57})
    )
    assert http_route_backends(removed, BACKENDS, NS) == {"chat": 57, "chat-ab-1": 43, "chat-ab-2": 0}
    done = patched(removed, http_route_split_patch(removed, BACKENDS, NS, {"chat": 100}))
    assert done["spec"]["rules"][0]["backendRefs"] == [{"name": "chat", "port": 80, "weight": 100}, {"name": "x"}]
    # A canary later on that route does not keep backends of an old test either.
    canary = patched(removed, http_route_patch(removed, BACKENDS, NS, 10))
    assert [ref["name"] for ref in canary["spec"]["rules"][0]["backendRefs"]] == ["chat", "x", "chat-canary"]
