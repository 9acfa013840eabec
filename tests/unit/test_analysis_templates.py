"""Query templates: substitution, validation, and injection attempts."""

from __future__ import annotations

import pytest

from modelrollout.analysis.templates import (
    AnalysisConfigError,
    TemplateValues,
    prometheus_duration,
    render,
    template_variables,
)
from modelrollout.api.presets import PRESETS

VALUES = TemplateValues(
    rollout="support-agent",
    namespace="prod",
    model="support-agent",
    version="2.4.0",
    window="1m",
    stable_version="2.3.1",
)


def values(**changes: str | None) -> TemplateValues:
    fields = {**VALUES.__dict__, **changes}
    return TemplateValues(**fields)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('x{version="{{version}}"}', 'x{version="2.4.0"}'),
        ('x{version="{{ version }}"}', 'x{version="2.4.0"}'),
        ('x{version="{{\tversion  }}"}', 'x{version="2.4.0"}'),
        ("{{rollout}}/{{namespace}}/{{model}}", "support-agent/prod/support-agent"),
        ('x{v="{{stableVersion}}"}[{{window}}]', 'x{v="2.3.1"}[1m]'),
        ("vector(1)", "vector(1)"),
    ],
)
def test_render_substitutes_variables(template: str, expected: str) -> None:
    assert render(template, VALUES) == expected


def test_template_variables_lists_names_ignoring_whitespace() -> None:
    assert template_variables("{{ version }} {{window}} {{version}}") == {"version", "window"}


@pytest.mark.parametrize(
    ("template", "mentioned"),
    [
        ("{{versoin}}", "versoin"),
        ("{{ env }} and {{version}}", "env"),
        ("{{ version | upper }}", "version | upper"),
    ],
)
def test_unknown_variables_are_named(template: str, mentioned: str) -> None:
    with pytest.raises(AnalysisConfigError, match="unknown template variable") as info:
        render(template, VALUES)
    assert mentioned in str(info.value)


@pytest.mark.parametrize("template", ['x{version="{{version}"}', "{{version", "version}}"])
def test_unbalanced_braces_are_refused(template: str) -> None:
    with pytest.raises(AnalysisConfigError):
        render(template, VALUES)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("version", 'x"} or vector(1) #'),
        ("version", '2.4.0"}'),
        ("version", "2.4.0|.*"),
        ("version", "A.B"),
        ("version", "-leading"),
        ("version", "trailing."),
        ("version", ""),
        ("version", "two words"),
        ("version", "2.4.0\n"),
        ("rollout", 'a",version=~".*'),
        ("namespace", "ns}"),
        ("model", "m\\"),
        ("stable_version", "1.0.0' or"),
    ],
)
def test_injection_attempts_raise(field: str, value: str) -> None:
    template = (
        'x{rollout="{{rollout}}",namespace="{{namespace}}",model="{{model}}",'
        'version="{{version}}",s="{{stableVersion}}"}'
    )
    with pytest.raises(AnalysisConfigError, match="cannot be used in a query"):
        render(template, values(**{field: value}))


def test_values_of_unused_variables_are_not_checked() -> None:
    # A version the query does not mention cannot change its meaning.
    assert render("vector(1)", values(version='x"} or vector(1) #')) == "vector(1)"


def test_missing_stable_version_is_an_error_only_when_used() -> None:
    assert render('x{v="{{version}}"}', values(stable_version=None)) == 'x{v="2.4.0"}'
    with pytest.raises(AnalysisConfigError, match="no stableVersion"):
        render('x{v="{{stableVersion}}"}', values(stable_version=None))


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ("1m", "1m"),
        ("30s", "30s"),
        ("1h30m", "1h30m"),
        ("250ms", "250ms"),
        ("1.5m", "90s"),
        ("0.5s", "500ms"),
    ],
)
def test_window_is_a_prometheus_duration(window: str, expected: str) -> None:
    assert prometheus_duration(window) == expected
    assert render("[{{window}}]", values(window=window)) == f"[{expected}]"


@pytest.mark.parametrize("window", ["1m] or vector(1) #", "5", "0s", "-1m", "1 m", ""])
def test_invalid_window_raises(window: str) -> None:
    with pytest.raises(AnalysisConfigError, match="window"):
        render("[{{window}}]", values(window=window))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_renders_to_a_selector_of_one_version(name: str) -> None:
    query = render(PRESETS[name].query, VALUES)
    assert "{{" not in query
    assert 'namespace="prod",rollout="support-agent",version="2.4.0"' in query
    assert "[1m]" in query
