"""Render PromQL query templates with values the operator derives and validates.

Only `{{name}}` placeholders of known variables are substituted, and every value is checked against a
narrow pattern first, so nothing in a spec or a label can change what a query means (no quotes, braces
or operators can be smuggled in).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelrollout.api.common import parse_duration
from modelrollout.api.presets import TEMPLATE_VARIABLES


class AnalysisConfigError(ValueError):
    """A metric cannot be measured as configured (unknown preset or variable, invalid value)."""


# Anything between double braces is a placeholder; its content must be a known variable name.
_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
# Label values (and names) the operator substitutes: lowercase DNS-ish, no quotes or spaces.
LABEL_VALUE_PATTERN = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")
_LABEL_VALUE_MAX = 253
# Prometheus' own duration syntax for range selectors: whole numbers with units, e.g. 1m30s.
_PROMETHEUS_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")


def template_variables(text: str) -> set[str]:
    """Names of the `{{ name }}` placeholders in a template (whitespace inside braces ignored)."""
    return {match.group(1).strip() for match in _PLACEHOLDER.finditer(text)}


def unknown_variables(text: str) -> set[str]:
    """Placeholders of a template that are not template variables."""
    return template_variables(text) - TEMPLATE_VARIABLES


def prometheus_duration(text: str) -> str:
    """A duration in Prometheus' syntax: kept as is when it already is, else whole milliseconds.

    The API accepts fractional durations such as "1.5m" that PromQL range selectors reject; those are
    normalised (to "90s") rather than refused.
    """
    if _PROMETHEUS_DURATION.fullmatch(text) and re.search(r"[1-9]", text):
        return text
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise AnalysisConfigError(f"window {text!r} is not a duration such as 30s or 5m") from exc
    millis = round(seconds * 1000)
    if millis <= 0:
        raise AnalysisConfigError(f"window {text!r} must be longer than zero")
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"


def check_label_value(name: str, value: str) -> str:
    """`value` if it is safe to put between quotes in a label matcher; AnalysisConfigError otherwise."""
    if len(value) > _LABEL_VALUE_MAX or not LABEL_VALUE_PATTERN.fullmatch(value):
        raise AnalysisConfigError(
            f"{name} {value!r} cannot be used in a query: it must match [a-z0-9.-] "
            "and start and end with a letter or digit"
        )
    return value


@dataclass(frozen=True)
class TemplateValues:
    """Values of the template variables for one query; `stable_version` is None when no stable serves."""

    rollout: str
    namespace: str
    model: str
    version: str
    window: str
    stable_version: str | None = None
    # Time since the version under test got traffic in this rollout: the range evidence counts cover.
    range: str | None = None

    def as_mapping(self) -> dict[str, str | None]:
        return {
            "rollout": self.rollout,
            "namespace": self.namespace,
            "model": self.model,
            "version": self.version,
            "stableVersion": self.stable_version,
            "window": self.window,
            "range": self.range,
        }


def render(template: str, values: TemplateValues) -> str:
    """The query with every placeholder substituted; AnalysisConfigError for an unknown or unset variable
    or an invalid value."""
    leftover = _PLACEHOLDER.sub("", template)
    if "{{" in leftover or "}}" in leftover:
        raise AnalysisConfigError("the query has an unbalanced '{{' or '}}'; write variables as {{name}}")
    unknown = unknown_variables(template)
    if unknown:
        raise AnalysisConfigError(
            f"unknown template variable(s) {', '.join(sorted(repr(name) for name in unknown))}; "
            f"known: {', '.join(sorted(TEMPLATE_VARIABLES))}"
        )
    used = template_variables(template)
    substitutions: dict[str, str] = {}
    for name, value in values.as_mapping().items():
        if name not in used:
            continue
        if value is None:
            raise AnalysisConfigError(f"the query uses {{{{{name}}}}} but there is no {name}")
        substitutions[name] = (
            prometheus_duration(value) if name in ("window", "range") else check_label_value(name, value)
        )
    return _PLACEHOLDER.sub(lambda match: substitutions[match.group(1).strip()], template)
