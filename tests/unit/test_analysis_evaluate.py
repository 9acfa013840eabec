"""Verdicts of single measurements: every threshold kind, and everything that is not a number."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest

from modelrollout.analysis.evaluate import evaluate, fmt
from modelrollout.analysis.metrics import resolve_metric
from modelrollout.api.rollout import AnalysisSpec, MetricSpec

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def check(metric: dict[str, Any], value: float | None, baseline: float | None = None, **kw: Any) -> Any:
    resolved = resolve_metric(MetricSpec.model_validate({"name": "error-rate", "query": "q", **metric}), AnalysisSpec())
    return evaluate(resolved, value, baseline, NOW, version="v2", **kw)


@pytest.mark.parametrize(
    ("metric", "value", "baseline", "verdict"),
    [
        ({"max": 0.05}, 0.01, None, "pass"),
        ({"max": 0.05}, 0.05, None, "pass"),  # at the bound is within it
        ({"max": 0.05}, 0.2013, None, "fail"),
        ({"min": 0.7}, 0.8, None, "pass"),
        ({"min": 0.7}, 0.7, None, "pass"),
        ({"min": 0.7}, 0.69, None, "fail"),
        ({"maxRatioToBaseline": 1.5}, 0.3, 0.2, "pass"),
        ({"maxRatioToBaseline": 1.5}, 0.31, 0.2, "fail"),
        ({"minRatioToBaseline": 0.9}, 0.19, 0.2, "pass"),
        ({"minRatioToBaseline": 0.9}, 0.17, 0.2, "fail"),
        ({"min": 1, "max": 2}, 1.5, None, "pass"),
        ({"min": 1, "max": 2}, 2.5, None, "fail"),
        ({"min": 1, "max": 2}, 0.5, None, "fail"),
        ({"max": 0.05}, 0.0, None, "pass"),
        # A known breach fails even when the ratio bound cannot be checked.
        ({"max": 0.01, "maxRatioToBaseline": 1.5}, 0.3, None, "fail"),
    ],
)
def test_threshold_verdicts(metric: dict[str, Any], value: float, baseline: float | None, verdict: str) -> None:
    measurement = check(metric, value, baseline)
    assert measurement.verdict == verdict
    assert measurement.value == value
    assert measurement.baseline == baseline
    assert measurement.version == "v2"
    assert measurement.at == "2026-01-02T03:04:05Z"


@pytest.mark.parametrize(
    ("metric", "value", "baseline", "message"),
    [
        ({"max": 0.05}, 0.2013, None, "error-rate=0.2013 above max 0.05"),
        ({"max": 0.05}, 0.01, None, "error-rate=0.01 within max 0.05"),
        ({"min": 0.7}, 0.5, None, "error-rate=0.5 below min 0.7"),
        (
            {"maxRatioToBaseline": 1.5},
            0.42,
            0.2,
            "error-rate=0.42 is 2.1x baseline 0.2, above maxRatioToBaseline 1.5",
        ),
        (
            {"minRatioToBaseline": 0.9},
            0.1,
            0.2,
            "error-rate=0.1 is 0.5x baseline 0.2, below minRatioToBaseline 0.9",
        ),
    ],
)
def test_messages_name_metric_value_and_threshold(
    metric: dict[str, Any], value: float, baseline: float | None, message: str
) -> None:
    assert check(metric, value, baseline).message == message


@pytest.mark.parametrize(
    ("metric", "value", "baseline", "kw", "reason"),
    [
        ({"max": 0.05}, None, None, {}, "no data"),
        ({"max": 0.05}, None, None, {"error": "no data"}, "no data"),
        ({"max": 0.05}, 0.01, None, {"error": "Prometheus answered HTTP 503"}, "HTTP 503"),
        ({"max": 0.05}, math.nan, None, {}, "nan"),
        ({"min": 0.7}, math.inf, None, {}, "inf"),
        ({"max": 0.05}, -math.inf, None, {}, "-inf"),
        ({"maxRatioToBaseline": 1.5}, 0.3, None, {}, "no baseline data"),
        ({"maxRatioToBaseline": 1.5}, 0.3, 0.0, {}, "positive baseline"),
        ({"minRatioToBaseline": 0.5}, 0.3, math.nan, {}, "baseline is nan"),
        ({"maxRatioToBaseline": 1.5}, 0.3, math.inf, {}, "baseline is inf"),
        ({"maxRatioToBaseline": 1.5}, 0.3, -1.0, {}, "positive baseline"),
        ({"maxRatioToBaseline": 1.5}, 0.3, None, {"baseline_error": "timed out"}, "timed out"),
        # A bound that passes does not make up for a ratio that cannot be checked.
        ({"max": 1, "maxRatioToBaseline": 1.5}, 0.3, None, {}, "no baseline"),
    ],
)
def test_anything_but_a_number_is_inconclusive(
    metric: dict[str, Any], value: float | None, baseline: float | None, kw: dict[str, Any], reason: str
) -> None:
    measurement = check(metric, value, baseline, **kw)
    assert measurement.verdict == "inconclusive"
    assert measurement.message.startswith("error-rate")
    assert reason in measurement.message
    # Status is JSON: non-finite numbers are never stored.
    for stored in (measurement.value, measurement.baseline):
        assert stored is None or math.isfinite(stored)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.2013, "0.2013"),
        (0.05, "0.05"),
        (1.5, "1.5"),
        (0.0, "0"),
        (0.00012, "0.00012"),
        (123456.0, "1.235e+05"),
    ],
)
def test_fmt(value: float, text: str) -> None:
    assert fmt(value) == text
