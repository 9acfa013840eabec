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

An A/B test over two or more versions adds `variants`, each entry with the bucket range it owns
(`buckets`: [from, to), fixed for the whole test) and its `weight` (0 once it is out of traffic):

    "variants": [{"version": "support-agent-2-4-0", "label": "2.4.0", "service": "support-agent-ab-1",
                  "weight": 30, "buckets": [0, 3000]},
                 {"version": "support-agent-2-3-1", "label": "2.3.1", "service": "support-agent",
                  "weight": 70, "buckets": [3000, 10000]}]

A user goes to the variant owning their bucket. If that variant is out of traffic, the user draws
again (the salt with "#1", "#2", ... appended) until a variant in traffic owns the bucket, and falls
back to `stable` (the control) after DRAWS draws. So while the table stays the same a user never
moves; taking a variant out moves only its own users, spread over the others by their shares.

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
DRAWS = 32


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
    variants = table.get("variants")
    if isinstance(variants, list) and variants:
        return _assign_variant(user_id, str(table.get("salt", "")), variants) or stable
    candidate = table.get("candidate")
    if not isinstance(candidate, Mapping):
        return stable
    weight = float(table.get("weight") or 0)
    if bucket(user_id, str(table.get("salt", ""))) < round(weight * BUCKETS / 100):
        return candidate
    return stable


def _assign_variant(user_id: str, salt: str, variants: list[Any]) -> Mapping[str, str] | None:
    """The variant in traffic owning the user's bucket, drawing again past variants out of traffic."""
    for draw in range(DRAWS):
        point = bucket(user_id, salt if draw == 0 else f"{salt}#{draw}")
        for entry in variants:
            if not isinstance(entry, Mapping):
                continue
            low, high = entry.get("buckets") or (0, 0)
            if int(low) <= point < int(high):
                if float(entry.get("weight") or 0) > 0:
                    return entry
                break
        else:
            return None  # a bucket nobody owns: the table is not ours; the control serves
    return None


def load_table(text: str | bytes) -> dict[str, Any]:
    """Parse a route table as stored under TABLE_KEY."""
    try:
        table = json.loads(text)
    except ValueError as error:
        raise RouteTableError(f"route table is not JSON: {error}") from error
    if not isinstance(table, dict) or not isinstance(table.get("stable"), dict):
        raise RouteTableError("route table has no stable entry")
    return table
