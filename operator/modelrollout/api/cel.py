"""Admission rules attached to the models, so the models stay the single source of the CRDs.

The helpers build the `json_schema_extra` of a model or field: CEL rules
(`x-kubernetes-validations`) and list semantics (`x-kubernetes-list-type`). Pydantic ignores both
when validating; `modelrollout.api.crd` copies them into the CRD, where the API server enforces them.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

# The shapes pydantic's json_schema_extra takes (pydantic.config spells them the same, unexported).
JsonValue: TypeAlias = int | float | str | bool | list["JsonValue"] | dict[str, "JsonValue"] | None
JsonDict: TypeAlias = dict[str, JsonValue]


def rule(
    expression: str, message: str, *, field_path: str | None = None, message_expression: str | None = None
) -> JsonDict:
    """One CEL rule; the message names the field and says what to do (kubectl prints it verbatim).

    A message_expression (CEL returning a string) may add the offending values; `message` stays the
    fallback when it cannot be evaluated.
    """
    entry: JsonDict = {"rule": expression, "message": message}
    if message_expression is not None:
        entry["messageExpression"] = message_expression
    if field_path is not None:
        # Reported at this path (relative to the node carrying the rule) instead of the node itself.
        entry["fieldPath"] = field_path
    return entry


def validations(*rules: JsonDict) -> JsonDict:
    """`json_schema_extra` carrying CEL rules."""
    values: list[JsonValue] = list(rules)
    return {"x-kubernetes-validations": values}


def at_least(minimum: str, field: str) -> JsonDict:
    """`json_schema_extra` of a duration field that must be at least `minimum` (a Go duration)."""
    return {
        "x-doc-type": "duration",
        **validations(rule(f"duration(self) >= duration('{minimum}')", f"{field}: at least {minimum}")),
    }


def list_set() -> JsonDict:
    """A list of unique scalars (duplicates are rejected; server-side apply merges by value)."""
    return {"x-kubernetes-list-type": "set"}


def list_map(*keys: str) -> JsonDict:
    """A list of objects unique by `keys` (duplicates are rejected; server-side apply merges by key)."""
    key_list: list[JsonValue] = list(keys)
    return {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": key_list}


def count_set(fields: tuple[str, ...], *, on: str = "self") -> str:
    """CEL counting how many of `fields` are set on `on`, e.g. to say "exactly one of"."""
    return " + ".join(f"(has({on}.{name}) ? 1 : 0)" for name in fields)


def merge(*extras: JsonDict) -> JsonDict:
    """Several `json_schema_extra` dicts as one (rule lists are concatenated)."""
    merged: JsonDict = {}
    for extra in extras:
        for key, value in extra.items():
            previous = merged.get(key)
            if isinstance(previous, list) and isinstance(value, list):
                merged[key] = previous + value
            else:
                merged[key] = value
    return merged


Cardinality = Literal["exactly one", "at most one"]


def one_of(fields: tuple[str, ...], cardinality: Cardinality, message: str) -> JsonDict:
    """A rule that exactly one (or at most one) of `fields` is set."""
    operator = "==" if cardinality == "exactly one" else "<="
    return rule(f"{count_set(fields)} {operator} 1", message)
