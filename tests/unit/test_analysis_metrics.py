"""Resolving a metric: presets, overrides and defaults."""

from __future__ import annotations

from typing import Any

import pytest

from modelrollout.analysis.metrics import Threshold, resolve_metric
from modelrollout.analysis.templates import AnalysisConfigError
from modelrollout.api.presets import PRESETS
from modelrollout.api.rollout import AnalysisSpec, MetricSpec

ANALYSIS = AnalysisSpec(interval="30s")


def resolve(**fields: Any) -> Any:
    return resolve_metric(MetricSpec.model_validate({"name": "m", **fields}), ANALYSIS)


def test_preset_supplies_query_threshold_and_severity() -> None:
    resolved = resolve(preset="errorRate")
    assert resolved.query == PRESETS["errorRate"].query
    assert resolved.thresholds == (Threshold("max", 0.05),)
    assert resolved.severity == "critical"
    assert (resolved.failure_limit, resolved.interval, resolved.count, resolved.initial_delay) == (
        0,
        30.0,
        1,
        0.0,
    )
    assert resolved.background is True
    assert not resolved.needs_baseline


@pytest.mark.parametrize(
    ("fields", "thresholds"),
    [
        ({"preset": "errorRate", "max": 0.01}, (Threshold("max", 0.01),)),
        # A user threshold replaces the preset's threshold kind entirely, not just its value.
        ({"preset": "errorRate", "min": 0.001}, (Threshold("min", 0.001),)),
        ({"preset": "latencyP95"}, (Threshold("maxRatioToBaseline", 1.5),)),
        ({"preset": "latencyP95", "max": 0.5}, (Threshold("max", 0.5),)),
        ({"preset": "qualityScore"}, (Threshold("min", 0.7),)),
        ({"preset": "hallucinationRate"}, (Threshold("max", 0.02),)),
        ({"preset": "costPerRequest"}, (Threshold("maxRatioToBaseline", 2.0),)),
        ({"query": "vector(1)", "minRatioToBaseline": 0.9}, (Threshold("minRatioToBaseline", 0.9),)),
        ({"query": "vector(1)", "min": 1, "max": 2}, (Threshold("max", 2), Threshold("min", 1))),
    ],
)
def test_thresholds(fields: dict[str, Any], thresholds: tuple[Threshold, ...]) -> None:
    assert resolve(**fields).thresholds == thresholds


@pytest.mark.parametrize(
    ("fields", "attribute", "expected"),
    [
        ({"preset": "costPerRequest"}, "severity", "warning"),
        ({"preset": "costPerRequest", "severity": "critical"}, "severity", "critical"),
        ({"preset": "errorRate", "severity": "warning"}, "severity", "warning"),
        ({"query": "vector(1)", "max": 1}, "severity", "critical"),
        ({"preset": "errorRate", "failureLimit": 3}, "failure_limit", 3),
        ({"preset": "errorRate", "interval": "1m"}, "interval", 60.0),
        ({"preset": "errorRate", "count": 5}, "count", 5),
        ({"preset": "errorRate", "initialDelay": "2m"}, "initial_delay", 120.0),
        ({"preset": "errorRate", "background": False}, "background", False),
        ({"preset": "errorRate", "query": "vector(0)"}, "query", "vector(0)"),
        ({"preset": "latencyP95"}, "needs_baseline", True),
    ],
)
def test_overrides_and_defaults(fields: dict[str, Any], attribute: str, expected: object) -> None:
    assert getattr(resolve(**fields), attribute) == expected


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"preset": "errorRat"}, "unknown preset 'errorRat'"),
        ({"max": 1}, "set a query, a ratio or a preset"),
        ({"query": "   ", "max": 1}, "set a query, a ratio or a preset"),
        ({"query": "vector(1)"}, "set a threshold"),
        ({"query": "x{v='{{versionn}}'}", "max": 1}, "versionn"),
    ],
)
def test_invalid_metrics_raise(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(AnalysisConfigError, match=message):
        resolve(**fields)
