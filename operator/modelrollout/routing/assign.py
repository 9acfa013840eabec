"""Which version serves a user: `assign(user_id, table)` over a Rollout's published route table.

Standard library only, on purpose: applications and gateway plugins may import this module or
copy this one file. The `userHash` router publishes the table as JSON under the key `table.json`
of the ConfigMap `<rollout>-routes`:

    {"rollout": "support-agent", "namespace": "ml", "header": "x-user-id", "salt": "ml/support-agent",
     "weight": 10,
     "stable":    {"version": "support-agent-2-3-1", "label": "2.3.1", "service": "support-agent"},
     "candidate": {"version": "support-agent-2-4-0", "label": "2.4.0", "service": "support-agent-canary"}}

`candidate` is null when no rollout is in progress; send the request to the returned entry's
`service`.

A user's bucket is the first 8 bytes of sha256(salt, user id) modulo 10,000; the candidate takes
the buckets below weight * 100. The bucket never changes for a user and salt, so the same user
gets the same version in every call and process, and raising the weight only moves users from
stable to candidate (the buckets below 10 % are also below 20 %), never back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

TABLE_KEY = "table.json"
BUCKETS = 10_000


class RouteTableError(ValueError):
    """The table is not one the userHash router publishes."""


def bucket(user_id: str, salt: str) -> int:
    """The user's bucket in [0, BUCKETS): stable across processes and machines (never `hash()`)."""
    digest = hashlib.sha256(salt.encode() + b"\x00" + user_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def assign(user_id: str, table: Mapping[str, Any]) -> Mapping[str, str]:
    """The table entry (`version`, `label`, `service`) that serves `user_id`."""
    stable = table.get("stable")
    if not isinstance(stable, Mapping):
        raise RouteTableError("route table has no stable entry")
    candidate = table.get("candidate")
    if not isinstance(candidate, Mapping):
        return stable
    weight = float(table.get("weight") or 0)
    if bucket(user_id, str(table.get("salt", ""))) < round(weight * BUCKETS / 100):
        return candidate
    return stable


def load_table(text: str | bytes) -> dict[str, Any]:
    """Parse a route table as stored under TABLE_KEY."""
    try:
        table = json.loads(text)
    except ValueError as error:
        raise RouteTableError(f"route table is not JSON: {error}") from error
    if not isinstance(table, dict) or not isinstance(table.get("stable"), dict):
        raise RouteTableError("route table has no stable entry")
    return table
