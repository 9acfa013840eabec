"""Which ModelVersion events matter, and to whom.

The version analytics loop patches every serving version's `status.performance` each interval.
Those patches come back as watch events; if each re-listed the namespace for lineage and woke
every Rollout of the model, idle cost would grow with the square of the versions per namespace.
Lineage depends only on which versions exist and their specs; Rollouts on spec and status
without the performance figures.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Relevance:
    lineage: bool  # a version appeared, went away, or its spec changed
    rollouts: bool  # something a Rollout pass reads changed


def _digest(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


@dataclass
class ModelVersionChanges:
    """Remembers, per ModelVersion, the last spec and status (without performance) seen."""

    seen: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    def observe(self, event_type: str, namespace: str, name: str, body: Mapping[str, Any]) -> Relevance:
        key = (namespace, name)
        if event_type == "DELETED":
            self.seen.pop(key, None)
            return Relevance(lineage=True, rollouts=True)
        status = {k: v for k, v in dict(body.get("status") or {}).items() if k != "performance"}
        now = (_digest(body.get("spec")), _digest(status))
        before = self.seen.get(key)
        self.seen[key] = now
        if before is None:
            return Relevance(lineage=True, rollouts=True)
        return Relevance(lineage=before[0] != now[0], rollouts=before != now)
