"""Shared building blocks of the API: base model, durations, semantic versions, conditions."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

GROUP = "modelrollout.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"


class SpecModel(BaseModel):
    """Base of every spec object: camelCase on the wire, unknown fields are an error."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", validate_assignment=True)


class StatusModel(BaseModel):
    """Base of every status object: camelCase on the wire, unknown fields ignored (older operators)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", validate_assignment=True)


# A Go-style duration made of non-negative parts: "30s", "1m30s", "250ms", "24h".
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}

Duration = Annotated[
    str,
    Field(
        pattern=DURATION_PATTERN,
        max_length=32,
        json_schema_extra={"x-doc-type": "duration"},
        examples=["30s", "5m", "1h30m"],
    ),
]


def parse_duration(text: str) -> float:
    """Seconds in a duration string such as "1m30s"; raises ValueError on anything else."""
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"invalid duration {text!r}: use digits with ms, s, m or h, e.g. 30s or 5m")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _DURATION_PART.findall(text))


# semver.org's reference expression (RE2-compatible, so the API server can use it too).
SEMVER_PATTERN = (
    r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(-((0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(\+([0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*))?$"
)
SemVer = Annotated[str, Field(pattern=SEMVER_PATTERN, max_length=63, examples=["2.4.0", "3.0.0-rc.1"])]

# RFC 1123 label (model families, Service names) and subdomain (object names).
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DnsLabel = Annotated[str, Field(pattern=DNS_LABEL_PATTERN, max_length=63)]
ObjectName = Annotated[str, Field(pattern=DNS_SUBDOMAIN_PATTERN, max_length=253)]

Percent = Annotated[int, Field(ge=0, le=100)]


def version_slug(semver: str) -> str:
    """The label value and name suffix for a semantic version: lowercase, only [a-z0-9.-].

    "2.4.0" stays "2.4.0"; "3.0.0-RC.1+build.7" becomes "3.0.0-rc.1-build.7".
    """
    slug = re.sub(r"[^a-z0-9.-]", "-", semver.lower()).strip("-.")
    return slug[:63].rstrip("-.")


def format_time(moment: datetime) -> str:
    """RFC 3339 in UTC with a Z, keeping microseconds (naive means UTC).

    Decisions measure elapsed time from these strings, so cutting them to whole seconds would
    end pauses, auto-promotions and deadlines up to a second early. Trailing zeros of the
    fraction are dropped, as Go's RFC3339Nano does: a whole second reads "...:05Z".
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_time(text: str) -> datetime:
    """The inverse of format_time; accepts any RFC 3339 timestamp."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(StatusModel):
    """A condition as the Kubernetes API conventions describe it."""

    type: str = Field(description="Condition type, e.g. Progressing, Available, InvalidSpec.")
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(description="One-word CamelCase reason for the last transition.")
    message: str = Field(default="", description="Human-readable details.")
    last_transition_time: str = Field(description="When status last changed (RFC 3339).")
    observed_generation: int | None = Field(
        default=None, description="metadata.generation the condition was computed from."
    )
