"""The HTTPRoute edits of the gatewayAPI router: only the managed backendRefs change."""

from __future__ import annotations

import copy
from typing import Any

from modelrollout.adapters.httproute import (
    Backends,
    http_route_mirror,
    http_route_patch,
    http_route_weight,
    managed_rules,
)

NS = "ml"
BACKENDS = Backends(stable="chat", canary="chat-canary", port=80)


def route(*rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"name": "chat", "namespace": NS, "resourceVersion": "41"},
        "spec": {"parentRefs": [{"name": "gw"}], "rules": list(rules)},
    }


MANAGED = {
    "matches": [{"path": {"type": "PathPrefix", "value": "/v1/chat"}}],
    "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier": {"add": [{"name": "x", "value": "1"}]}}],
    "backendRefs": [{"name": "chat", "port": 80}],
}
OTHER = {
    "matches": [{"path": {"type": "PathPrefix", "value": "/health"}}],
    "backendRefs": [{"name": "health", "port": 8080}],
}


def apply_patch(obj: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """Enough of RFC 6902 for these ops: test and replace at /spec/rules/N/backendRefs."""
    result = copy.deepcopy(obj)
    for op in ops:
        parts = op["path"].strip("/").split("/")
        if op["op"] == "test":
            assert result["metadata"]["resourceVersion"] == op["value"]
            continue
        assert op["op"] == "replace" and parts[:2] == ["spec", "rules"] and parts[3] == "backendRefs"
        result["spec"]["rules"][int(parts[2])]["backendRefs"] = op["value"]
    return result


def test_the_canary_backend_is_added_and_weighted_and_nothing_else_changes() -> None:
    before = route(OTHER, MANAGED)
    ops = http_route_patch(before, BACKENDS, NS, 5)
    assert ops[0] == {"op": "test", "path": "/metadata/resourceVersion", "value": "41"}
    assert [op["path"] for op in ops[1:]] == ["/spec/rules/1/backendRefs"]
    after = apply_patch(before, ops)
    assert after["spec"]["rules"][1]["backendRefs"] == [
        {"name": "chat", "port": 80, "weight": 95},
        {"group": "", "kind": "Service", "name": "chat-canary", "port": 80, "weight": 5},
    ]
    assert after["spec"]["rules"][0] == OTHER
    assert after["spec"]["rules"][1]["matches"] == MANAGED["matches"]
    assert after["spec"]["rules"][1]["filters"] == MANAGED["filters"]
    assert http_route_weight(after, BACKENDS, NS) == 5
    assert http_route_patch(after, BACKENDS, NS, 5) == [], "already in place: no write"


def test_every_rule_sending_to_the_stable_service_is_weighted() -> None:
    second = {**MANAGED, "matches": [{"headers": [{"name": "x-beta", "value": "1"}]}]}
    before = route(MANAGED, OTHER, second)
    assert managed_rules(before, BACKENDS, NS) == [0, 2]
    after = apply_patch(before, http_route_patch(before, BACKENDS, NS, 50))
    assert http_route_weight(after, BACKENDS, NS) == 50
    assert [r["weight"] for r in after["spec"]["rules"][2]["backendRefs"]] == [50, 50]


def test_an_edited_weight_is_seen_and_put_back() -> None:
    edited = apply_patch(route(MANAGED), http_route_patch(route(MANAGED), BACKENDS, NS, 5))
    edited["spec"]["rules"][0]["backendRefs"][0]["weight"] = 10
    edited["spec"]["rules"][0]["backendRefs"][1]["weight"] = 90
    assert http_route_weight(edited, BACKENDS, NS) == 90
    restored = apply_patch(edited, http_route_patch(edited, BACKENDS, NS, 5))
    assert [r["weight"] for r in restored["spec"]["rules"][0]["backendRefs"]] == [95, 5]


def test_services_of_another_namespace_or_kind_are_not_ours() -> None:
    foreign = {"backendRefs": [{"name": "chat", "namespace": "other", "port": 80}]}
    pool = {"backendRefs": [{"name": "chat", "group": "inference.networking.k8s.io", "kind": "InferencePool"}]}
    assert managed_rules(route(foreign, pool), BACKENDS, NS) == []
    assert http_route_patch(route(foreign, pool), BACKENDS, NS, 5) == []


def test_a_shadow_adds_one_mirror_filter_and_takes_it_away_again() -> None:
    before = route(OTHER, MANAGED)
    mirrored = apply_filters(before, http_route_patch(before, BACKENDS, NS, 0, mirror=5))
    filters = mirrored["spec"]["rules"][1]["filters"]
    assert filters[0] == MANAGED["filters"][0], "the user's filter stays, first"
    assert filters[1] == {
        "type": "RequestMirror",
        "requestMirror": {
            "backendRef": {"group": "", "kind": "Service", "name": "chat-canary", "port": 80},
            "percent": 5,
        },
    }
    assert http_route_mirror(mirrored, BACKENDS, NS) == 5
    assert http_route_weight(mirrored, BACKENDS, NS) == 0
    assert http_route_patch(mirrored, BACKENDS, NS, 0, mirror=5) == []
    done = apply_filters(mirrored, http_route_patch(mirrored, BACKENDS, NS, 0, mirror=0))
    assert done["spec"]["rules"][1]["filters"] == MANAGED["filters"]
    assert http_route_mirror(done, BACKENDS, NS) == 0
    bare = route({"backendRefs": [{"name": "chat", "port": 80}]})
    ops = http_route_patch(apply_filters(bare, http_route_patch(bare, BACKENDS, NS, 0, mirror=3)), BACKENDS, NS, 0)
    assert ops[-1] == {"op": "remove", "path": "/spec/rules/0/filters"}


def apply_filters(obj: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """apply_patch, plus add/remove of a rule's filters."""
    result = apply_patch(obj, [op for op in ops if not op["path"].endswith("/filters")])
    for op in ops:
        if op["path"].endswith("/filters"):
            rule = result["spec"]["rules"][int(op["path"].split("/")[3])]
            if op["op"] == "remove":
                del rule["filters"]
            else:
                rule["filters"] = op["value"]
    return result
