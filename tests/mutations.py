"""Mutations of manifests for tables of malformed objects (shared by unit and integration tests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Json = dict[str, Any]
Mutation = Callable[[Json], None]


def set_path(path: str, value: Any) -> Mutation:
    """A mutation setting a dotted path ("strategy.canary.steps.0.setWeight"); None deletes it."""

    def mutate(body: Json) -> None:
        *parents, last = path.split(".")
        node: Any = body
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        elif value is None:
            del node[last]
        else:
            node[last] = value

    return mutate
