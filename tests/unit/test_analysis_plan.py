"""Which metrics are due: intervals, initial delays, steps, versions, baselines, and errors."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from modelrollout.analysis.plan import MetricQuery, RolloutIdentity, due_metrics, next_due_in
from modelrollout.api.common import format_time
from modelrollout.api.rollout import AnalysisSpec, AnalysisStatus, MetricTally
from modelrollout.core.analysis_contract import AnalysisScope

NOW = datetime(2026, 1, 2, 12, 0, 0, tzinfo=UTC)
IDENTITY = RolloutIdentity(rollout="support-agent", namespace="prod", model="support-agent")
ANALYSIS = AnalysisSpec.model_validate(
    {
        "interval": "30s",
        "window": "2m",
        "metrics": [
            {"name": "error-rate", "preset": "errorRate"},
            {"name": "latency", "preset": "latencyP95"},
            {"name": "slow", "preset": "errorRate", "interval": "5m"},
            {"name": "delayed", "preset": "errorRate", "initialDelay": "2m"},
            {"name": "bad-preset", "preset": "nope"},
            {"name": "stable-only", "query": 'x{v="{{stableVersion}}"}', "max": 1},
        ],
    }
)
SCOPE = AnalysisScope(
    version="support-agent-2-4-0",
    version_label="2.4.0",
    stable_version="support-agent-2-3-1",
    stable_label="2.3.1",
    background_metrics=("error-rate",),
)


def ago(seconds: float) -> str:
    return format_time(NOW - timedelta(seconds=seconds))


def status(version: str = SCOPE.version, **last_at: float) -> AnalysisStatus:
    return AnalysisStatus(
        version=version,
        tallies=[
            MetricTally(metric=name.replace("_", "-"), measurements=1, last_at=ago(s)) for name, s in last_at.items()
        ],
    )


def due(scope: AnalysisScope = SCOPE, state: AnalysisStatus | None = None, **kw: Any) -> list[str]:
    return [query.metric for query in due_metrics(scope, kw.get("analysis", ANALYSIS), state, NOW, identity=IDENTITY)]


@pytest.mark.parametrize(
    ("scope_changes", "state", "expected"),
    [
        ({}, None, ["error-rate"]),
        ({}, status(error_rate=10), []),
        ({}, status(error_rate=29), []),
        ({}, status(error_rate=30), ["error-rate"]),
        ({}, status(error_rate=300), ["error-rate"]),
        # Tallies of another version do not count: a new candidate is measured at once.
        ({}, status(version="support-agent-2-3-9", error_rate=10), ["error-rate"]),
        # The metric's own interval overrides analysis.interval.
        ({"background_metrics": ("slow",)}, status(slow=60), []),
        ({"background_metrics": ("slow",)}, status(slow=300), ["slow"]),
        # Step and background are merged without duplicates, steps first.
        (
            {"step_metrics": ("latency", "error-rate"), "background_metrics": ("error-rate", "slow")},
            None,
            ["latency", "error-rate", "slow"],
        ),
        ({"step_metrics": (), "background_metrics": ()}, None, []),
    ],
)
def test_due_by_interval(scope_changes: dict[str, Any], state: AnalysisStatus | None, expected: list[str]) -> None:
    assert due(replace(SCOPE, **scope_changes), state) == expected


@pytest.mark.parametrize(
    ("traffic_since", "step_since", "expected"),
    [
        (ago(60), None, []),
        (ago(119), None, []),
        (ago(120), None, ["delayed"]),
        (None, ago(60), []),  # the step start stands in for an unknown traffic start
        (None, ago(200), ["delayed"]),
        (None, None, ["delayed"]),  # nothing to count from: no delay
        (ago(200), ago(10), ["delayed"]),  # traffic start wins over the step start
    ],
)
def test_initial_delay_counts_from_traffic(
    traffic_since: str | None, step_since: str | None, expected: list[str]
) -> None:
    scope = replace(SCOPE, background_metrics=("delayed",), traffic_since=traffic_since, step_since=step_since)
    assert due(scope) == expected


def test_step_metric_measured_before_its_step_is_due_at_once() -> None:
    state = status(error_rate=10)
    assert due(replace(SCOPE, step_metrics=("error-rate",), step_since=ago(5)), state) == ["error-rate"]
    # ...while as a background metric, or once measured in the step, the interval holds.
    assert due(replace(SCOPE, step_since=ago(5)), state) == []
    assert due(replace(SCOPE, step_metrics=("error-rate",), step_since=ago(20)), state) == []


def test_no_data_right_after_traffic_starts_is_looked_at_again_within_a_second() -> None:
    """Prometheus scrapes a new version a second or so after its traffic starts; a full interval
    of waiting on that first "no data" would hold the rollout for nothing."""
    tally = MetricTally(
        metric="error-rate", measurements=1, inconclusive=1, last_at=ago(0.6), last_verdict="inconclusive"
    )
    state = AnalysisStatus(version=SCOPE.version, tallies=[tally])
    assert due(replace(SCOPE, traffic_since=ago(1)), state) == ["error-rate"]
    # Past the first interval of traffic, or once any data came, the interval holds again
    # (a Prometheus that stays down is not asked more often than usual).
    assert due(replace(SCOPE, traffic_since=ago(31)), state) == []
    measured = tally.model_copy(update={"measurements": 2})
    assert due(replace(SCOPE, traffic_since=ago(1)), AnalysisStatus(version=SCOPE.version, tallies=[measured])) == []


def test_queries_are_rendered_for_the_version_under_test() -> None:
    [query] = due_metrics(SCOPE, ANALYSIS, None, NOW, identity=IDENTITY)
    assert query.error is None and query.resolved is not None
    assert query.version == "support-agent-2-4-0"
    assert query.query is not None
    assert 'namespace="prod",rollout="support-agent",version="2.4.0",outcome="error"}[2m]' in query.query
    assert query.baseline_query is None  # errorRate has an absolute threshold


def test_ratio_metric_gets_a_baseline_query_for_the_stable_version() -> None:
    [query] = due_metrics(replace(SCOPE, background_metrics=("latency",)), ANALYSIS, None, NOW, identity=IDENTITY)
    assert query.query is not None and query.baseline_query is not None
    assert 'version="2.4.0"' in query.query and 'version="2.3.1"' not in query.query
    assert 'version="2.3.1"' in query.baseline_query and 'version="2.4.0"' not in query.baseline_query


@pytest.mark.parametrize(
    ("scope_changes", "metric", "error"),
    [
        ({"stable_version": None, "stable_label": None}, "latency", "no stable version"),
        ({"stable_version": None, "stable_label": None}, "stable-only", "no stableVersion"),
        ({}, "bad-preset", "unknown preset 'nope'"),
        ({}, "undefined", "'undefined' is not defined"),
        ({"version_label": 'x"} or vector(1) #'}, "error-rate", "cannot be used in a query"),
    ],
)
def test_unmeasurable_metrics_come_back_with_an_error(scope_changes: dict[str, Any], metric: str, error: str) -> None:
    scope = replace(SCOPE, background_metrics=(metric,), **scope_changes)
    [query] = due_metrics(scope, ANALYSIS, None, NOW, identity=IDENTITY)
    assert query.metric == metric
    assert query.query is None and query.baseline_query is None
    assert query.error is not None and error in query.error


def test_unmeasurable_metric_is_reported_once_per_interval() -> None:
    scope = replace(SCOPE, background_metrics=("bad-preset",))
    assert due(scope, status(bad_preset=10)) == []
    assert due(scope, status(bad_preset=30)) == ["bad-preset"]


def test_injection_through_identity_is_refused() -> None:
    identity = RolloutIdentity(rollout='r",version=~".*', namespace="prod", model="m")
    [query] = due_metrics(SCOPE, ANALYSIS, None, NOW, identity=identity)
    assert query == MetricQuery(metric="error-rate", version=SCOPE.version, resolved=query.resolved, error=query.error)
    assert query.error is not None and "rollout" in query.error


@pytest.mark.parametrize(
    ("scope_changes", "state", "expected"),
    [
        ({"background_metrics": ()}, None, None),
        ({}, None, 0.0),
        ({}, status(error_rate=10), 20.0),
        ({"background_metrics": ("error-rate", "slow")}, status(error_rate=10, slow=60), 20.0),
        ({"background_metrics": ("slow",)}, status(slow=60), 240.0),
        ({"background_metrics": ("delayed",), "traffic_since": ago(100)}, None, 20.0),
    ],
)
def test_next_due_in(scope_changes: dict[str, Any], state: AnalysisStatus | None, expected: float | None) -> None:
    assert next_due_in(replace(SCOPE, **scope_changes), ANALYSIS, state, NOW) == expected


def test_evidence_counts_cover_the_time_since_traffic_and_carry_the_detector() -> None:
    scope = replace(SCOPE, traffic_since=format_time(NOW - timedelta(seconds=95.2)))
    tally = MetricTally(
        metric="error-rate", evidence_looks=2, evidence_bad=1, evidence_trials=300, detector=[-1, -2, -3]
    )
    state = AnalysisStatus(version=SCOPE.version, tallies=[tally])
    [query] = due_metrics(scope, ANALYSIS, state, NOW, identity=IDENTITY)
    assert query.evidence_queries is not None
    assert query.evidence_queries["bad"].endswith('version="2.4.0",outcome="error"}[96s]))')
    assert query.evidence_queries["trials"].endswith('version="2.4.0"}[96s]))')
    assert query.state is not None and (query.state.looks, query.state.trials) == (2, 300)
    [latency] = due_metrics(replace(scope, background_metrics=("latency",)), ANALYSIS, None, NOW, identity=IDENTITY)
    assert latency.baseline_evidence_queries is not None
    assert 'version="2.3.1"}[96s]' in latency.baseline_evidence_queries["buckets"]
