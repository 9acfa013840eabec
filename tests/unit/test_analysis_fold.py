"""Folding measurements into tallies and the summary the core acts on."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from modelrollout.analysis.evidence import DetectorState
from modelrollout.analysis.fold import bound_history, fold
from modelrollout.api.common import format_time
from modelrollout.api.rollout import AnalysisSpec, AnalysisStatus, Measurement, Verdict
from modelrollout.core.analysis_contract import AnalysisScope, AnalysisSummary

T0 = datetime(2026, 1, 2, 12, 0, 0, tzinfo=UTC)
ANALYSIS = AnalysisSpec.model_validate(
    {
        "metrics": [
            {"name": "error-rate", "preset": "errorRate"},
            {"name": "tolerant", "preset": "errorRate", "failureLimit": 2},
            {"name": "three", "preset": "errorRate", "count": 3},
            {"name": "cost", "preset": "costPerRequest"},
            {"name": "bad-preset", "preset": "nope"},
        ]
    }
)
SCOPE = AnalysisScope(
    version="v2",
    version_label="2.0.0",
    stable_version="v1",
    stable_label="1.0.0",
    step_metrics=("error-rate",),
    background_metrics=("error-rate", "cost"),
    step_since=format_time(T0),
)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def m(metric: str, verdict: Verdict, seconds: float = 0, version: str = "v2", value: float = 0.1) -> Measurement:
    return Measurement(
        metric=metric,
        version=version,
        value=None if verdict == "inconclusive" else value,
        verdict=verdict,
        message=f"{metric}={value} {verdict}",
        at=format_time(at(seconds)),
    )


def run(
    batches: list[list[Measurement]], scope: AnalysisScope = SCOPE, status: AnalysisStatus | None = None
) -> tuple[AnalysisStatus, AnalysisSummary]:
    """Fold each batch in turn, as successive reconciles would."""
    summary = AnalysisSummary()
    for index, batch in enumerate(batches):
        status, summary = fold(scope, ANALYSIS, status, batch, at(30 * index + 1))
    assert status is not None
    return status, summary


def test_tallies_count_and_record_the_version() -> None:
    status, _ = run(
        [[m("error-rate", "pass", 0)], [m("error-rate", "fail", 30)], [m("error-rate", "inconclusive", 60)]]
    )
    assert status.version == "v2"
    [tally] = status.tallies
    assert (tally.metric, tally.measurements, tally.failures, tally.inconclusive) == ("error-rate", 3, 1, 1)
    assert tally.last_at == format_time(at(60))
    assert tally.last_verdict == "inconclusive"
    assert status.last_run == format_time(at(61))
    assert [x.verdict for x in status.measurements] == ["pass", "fail", "inconclusive"]


def test_a_new_version_starts_from_zero() -> None:
    old, _ = run([[m("error-rate", "fail", 0)]])
    status, summary = fold(replace(SCOPE, version="v3"), ANALYSIS, old, [], at(40))
    assert (status.version, status.tallies, status.measurements) == ("v3", [], [])
    assert summary.critical_failure is None


def test_measurements_of_another_version_are_ignored() -> None:
    status, summary = run([[m("error-rate", "fail", 0, version="v1")]])
    assert status.tallies == [] and status.measurements == []
    assert summary.critical_failure is None


@pytest.mark.parametrize(
    ("metric", "verdicts", "critical"),
    [
        ("error-rate", ["pass"], False),
        ("error-rate", ["fail"], True),  # failureLimit 0: the first failure
        ("error-rate", ["inconclusive", "inconclusive"], False),
        ("tolerant", ["fail", "fail"], False),
        ("tolerant", ["fail", "pass", "fail", "fail"], True),  # the third failure exceeds 2
        ("cost", ["fail", "fail", "fail"], False),  # warnings never roll back
    ],
)
def test_critical_failure_when_failures_exceed_the_limit(metric: str, verdicts: list[Verdict], critical: bool) -> None:
    scope = replace(SCOPE, background_metrics=(metric,))
    _, summary = run([[m(metric, verdict, 30 * i, value=0.2013)] for i, verdict in enumerate(verdicts)], scope)
    assert (summary.critical_failure is not None) == critical
    if critical:
        assert summary.critical_failure is not None
        assert metric in summary.critical_failure and "0.2013" in summary.critical_failure
        assert not summary.step_passed


def test_warning_metric_failing_is_a_warning_while_it_fails() -> None:
    _, summary = run([[m("cost", "fail", 0, value=3.1)]])
    assert summary.warnings == ("cost=3.1 fail",)
    assert summary.critical_failure is None
    _, summary = run([[m("cost", "fail", 0)], [m("cost", "pass", 30)]])
    assert summary.warnings == ()


def test_no_data_names_the_metric_and_clears_when_data_returns() -> None:
    _, summary = run([[m("error-rate", "pass", 0)], [m("error-rate", "inconclusive", 30)]])
    assert summary.no_data == "error-rate=0.1 inconclusive"
    _, summary = run([[m("error-rate", "inconclusive", 0)], [m("error-rate", "pass", 30)]])
    assert summary.no_data is None


def test_no_data_only_for_metrics_in_scope() -> None:
    scope = replace(SCOPE, step_metrics=(), background_metrics=("cost",))
    _, summary = run([[m("error-rate", "inconclusive", 0)]], scope)
    assert summary.no_data is None


@pytest.mark.parametrize(
    ("metric", "verdicts", "passed"),
    [
        ("error-rate", [], False),
        ("error-rate", ["pass"], True),
        ("error-rate", ["inconclusive"], False),
        ("error-rate", ["fail"], False),
        ("three", ["pass", "pass"], False),
        ("three", ["pass", "inconclusive", "pass"], False),  # inconclusive ones do not count
        ("three", ["pass", "inconclusive", "pass", "pass"], True),
        ("three", ["pass", "pass", "pass", "inconclusive"], True),  # latest not failing is enough
        ("tolerant", ["fail", "pass"], True),  # failures within the limit
        ("tolerant", ["pass", "fail"], False),  # ...but the latest is failing
        ("bad-preset", ["inconclusive"], False),
        ("cost", ["fail"], True),  # a failing warning metric warns, it does not hold the step
        ("cost", ["inconclusive"], False),
    ],
)
def test_step_passed(metric: str, verdicts: list[Verdict], passed: bool) -> None:
    scope = replace(SCOPE, step_metrics=(metric,), background_metrics=())
    batches = [[m(metric, verdict, 30 * i)] for i, verdict in enumerate(verdicts)] or [[]]
    status, summary = run(batches, scope)
    assert summary.step_passed == passed
    if passed:
        assert status.phase == "pass"


def test_only_measurements_from_the_current_step_count() -> None:
    scope = replace(SCOPE, step_metrics=("three",), background_metrics=("three",))
    status, summary = run([[m("three", "pass", 0)], [m("three", "pass", 30)], [m("three", "pass", 60)]], scope)
    assert summary.step_passed
    # The next analysis step begins: the earlier passes do not count for it.
    next_step = replace(scope, step_since=format_time(at(90)))
    status, summary = fold(next_step, ANALYSIS, status, [], at(91))
    assert not summary.step_passed
    [tally] = status.tallies
    assert (tally.step_passes, tally.step_failures, tally.measurements) == (0, 0, 3)
    # A measurement taken before the step began (a late result) does not count either.
    status, summary = fold(next_step, ANALYSIS, status, [m("three", "pass", 80)], at(92))
    assert status.tallies[0].step_passes == 0
    for i in range(3):
        status, summary = fold(next_step, ANALYSIS, status, [m("three", "pass", 90 + 30 * i)], at(91 + 30 * i))
    assert summary.step_passed


def test_without_step_metrics_no_step_passes() -> None:
    scope = replace(SCOPE, step_metrics=())
    status, summary = run([[m("error-rate", "pass", 0)]], scope)
    assert not summary.step_passed
    assert status.phase == "running"


def test_verdict_changes() -> None:
    status, summary = fold(SCOPE, ANALYSIS, None, [m("error-rate", "pass", 0), m("cost", "pass", 0)], at(1))
    assert summary.verdict_changes == (("error-rate", "pass"), ("cost", "pass"))
    status, summary = fold(SCOPE, ANALYSIS, status, [m("error-rate", "pass", 30), m("cost", "fail", 30)], at(31))
    assert summary.verdict_changes == (("cost", "fail"),)
    status, summary = fold(SCOPE, ANALYSIS, status, [], at(45))
    assert summary.verdict_changes == ()
    # Within one pass, only the net change counts.
    status, summary = fold(SCOPE, ANALYSIS, status, [m("cost", "pass", 50), m("cost", "fail", 55)], at(56))
    assert summary.verdict_changes == ()


@pytest.mark.parametrize(
    ("phase_scope", "batches", "phase"),
    [
        ({}, [[m("error-rate", "fail", 0)]], "fail"),
        ({}, [[m("error-rate", "pass", 0)]], "pass"),
        ({}, [[m("error-rate", "inconclusive", 0)]], "inconclusive"),
        ({}, [[]], "running"),
        ({"step_metrics": (), "background_metrics": ()}, [[]], None),
    ],
)
def test_phase(phase_scope: dict[str, object], batches: list[list[Measurement]], phase: str | None) -> None:
    status, _ = run(batches, replace(SCOPE, **phase_scope))  # type: ignore[arg-type]
    assert status.phase == phase


def test_history_is_bounded_but_keeps_the_latest_of_every_metric() -> None:
    history = [m("cost", "pass", 0)] + [m("error-rate", "pass", i) for i in range(1, 30)]
    kept = bound_history(history, 20)
    assert len(kept) == 21
    assert kept[0].metric == "cost"
    assert kept[1:] == history[-20:]
    status, _ = run([history])
    assert len(status.measurements) == 21


def test_fold_does_not_mutate_its_input() -> None:
    status, _ = run([[m("error-rate", "pass", 0)]])
    snapshot = status.model_dump()
    fold(SCOPE, ANALYSIS, status, [m("error-rate", "fail", 30)], at(31))
    assert status.model_dump() == snapshot


def test_status_round_trips_through_json() -> None:
    status, _ = run([[m("error-rate", "pass", 0)], [m("cost", "fail", 30)]])
    wire = status.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert wire["tallies"][0]["stepPasses"] == 1
    assert AnalysisStatus.model_validate(wire) == status


def test_collecting_is_not_no_data_and_does_not_pass_the_step() -> None:
    _, summary = run([[m("error-rate", "collecting")]])
    assert summary.no_data is None and not summary.step_passed and summary.undecided is None


def test_a_step_still_collecting_past_undecided_after_is_undecided() -> None:
    collecting = [m("error-rate", "collecting", seconds=0)]
    status, summary = fold(SCOPE, ANALYSIS, None, collecting, at(599))
    assert summary.undecided is None
    status, summary = fold(SCOPE, ANALYSIS, status, [m("error-rate", "collecting", seconds=601)], at(601))
    assert summary.undecided is not None and summary.undecided.startswith("still undecided after 10m")
    assert "error-rate=0.1 collecting" in summary.undecided
    assert status.phase == "collecting"
    # Evidence that decides clears it.
    _, summary = fold(SCOPE, ANALYSIS, status, [m("error-rate", "pass", seconds=602)], at(602))
    assert summary.undecided is None and summary.step_passed


def test_detector_states_are_kept_in_the_tallies() -> None:
    state = DetectorState(looks=3, bad=2, trials=300, log_values=(-1.0, -2.0, -3.0))
    status, _ = fold(SCOPE, ANALYSIS, None, [m("error-rate", "pass")], at(1), states={"error-rate": state})
    [tally] = [t for t in status.tallies if t.metric == "error-rate"]
    assert (tally.evidence_looks, tally.evidence_trials, tally.detector) == (3, 300, [-1.0, -2.0, -3.0])
