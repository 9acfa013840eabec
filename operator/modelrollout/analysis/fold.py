"""Fold new measurements into the analysis status and summarise them for the core.

Tallies belong to one version under test: `AnalysisStatus.version` records which, and a status about
another version is discarded (a new candidate starts from zero). Within a version, each tally also
counts the measurements of the current step (`stepSince`); those counters restart when the scope's
step changes, so only measurements taken during a step decide it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from modelrollout.analysis.evidence import DetectorState
from modelrollout.analysis.metrics import ResolvedMetric, find_metric, resolve_metric
from modelrollout.analysis.plan import metrics_in_scope
from modelrollout.analysis.templates import AnalysisConfigError
from modelrollout.api.common import format_time, parse_duration, parse_time
from modelrollout.api.rollout import AnalysisSpec, AnalysisStatus, Measurement, MetricTally, Verdict
from modelrollout.core.analysis_contract import AnalysisScope, AnalysisSummary

DEFAULT_HISTORY_LIMIT = 20


def _resolve_all(names: list[str], analysis: AnalysisSpec) -> dict[str, ResolvedMetric | None]:
    resolved: dict[str, ResolvedMetric | None] = {}
    for name in names:
        spec = find_metric(analysis, name)
        try:
            resolved[name] = resolve_metric(spec, analysis) if spec is not None else None
        except AnalysisConfigError:
            resolved[name] = None  # its measurements are inconclusive and say why
    return resolved


def _at_or_after(at: str, since: str | None) -> bool:
    return since is None or parse_time(at) >= parse_time(since)


def bound_history(measurements: list[Measurement], limit: int) -> list[Measurement]:
    """The newest `limit` measurements, plus the newest of every metric older than those; oldest first."""
    keep = set(range(max(0, len(measurements) - limit), len(measurements)))
    seen: set[str] = set()
    for index in range(len(measurements) - 1, -1, -1):
        metric = measurements[index].metric
        if metric not in seen:
            seen.add(metric)
            keep.add(index)
    return [measurements[index] for index in sorted(keep)]


def _latest(history: list[Measurement], metric: str, verdict: Verdict | None = None) -> Measurement | None:
    return next(
        (m for m in reversed(history) if m.metric == metric and (verdict is None or m.verdict == verdict)),
        None,
    )


def fold(
    scope: AnalysisScope,
    analysis: AnalysisSpec,
    status: AnalysisStatus | None,
    measurements: list[Measurement],
    now: datetime,
    *,
    history_limit: int = DEFAULT_HISTORY_LIMIT,
    states: Mapping[str, DetectorState] | None = None,
) -> tuple[AnalysisStatus, AnalysisSummary]:
    """The next analysis status and the summary the core acts on.

    Measurements of a version other than the scope's are ignored (a stale result after a new target).
    `states` are the rate metrics' change detectors after this pass's looks; they live in the tallies.
    """
    if status is None or status.version != scope.version:
        status = AnalysisStatus(version=scope.version)
    tallies: dict[str, MetricTally] = {}
    for tally in status.tallies:
        tally = tally.model_copy()
        if tally.step_since != scope.step_since:  # a new step: its counters start from zero
            tally.step_since, tally.step_passes, tally.step_failures = scope.step_since, 0, 0
        tallies[tally.metric] = tally
    before = {name: tally.last_verdict for name, tally in tallies.items()}

    fresh = [m for m in measurements if m.version == scope.version]
    for measurement in fresh:
        tally = tallies.setdefault(
            measurement.metric, MetricTally(metric=measurement.metric, step_since=scope.step_since)
        )
        tally.measurements += 1
        tally.failures += measurement.verdict == "fail"
        tally.inconclusive += measurement.verdict == "inconclusive"
        tally.last_at = measurement.at
        tally.last_verdict = measurement.verdict
        if _at_or_after(measurement.at, scope.step_since):
            tally.step_passes += measurement.verdict == "pass"
            tally.step_failures += measurement.verdict == "fail"
        state = (states or {}).get(measurement.metric)
        if state is not None:
            tally.evidence_looks, tally.evidence_bad, tally.evidence_trials = state.looks, state.bad, state.trials
            tally.detector = list(state.log_values)

    # First verdicts count as changes too: "error-rate: pass" is worth an Event.
    changes = tuple(
        (name, tally.last_verdict)
        for name, tally in tallies.items()
        if tally.last_verdict is not None and tally.last_verdict != before.get(name)
    )
    history = bound_history([*status.measurements, *fresh], history_limit)
    summary = _summarise(scope, analysis, tallies, history, changes, now)
    next_status = AnalysisStatus(
        version=scope.version,
        last_run=format_time(now) if fresh else status.last_run,
        phase=_phase(scope, tallies, summary),
        tallies=list(tallies.values()),
        measurements=history,
    )
    return next_status, summary


def _summarise(
    scope: AnalysisScope,
    analysis: AnalysisSpec,
    tallies: dict[str, MetricTally],
    history: list[Measurement],
    changes: tuple[tuple[str, str], ...],
    now: datetime,
) -> AnalysisSummary:
    names = metrics_in_scope(scope)
    resolved = _resolve_all(names, analysis)
    critical: list[str] = []
    warnings: list[str] = []
    no_data: list[str] = []
    for name in names:
        tally = tallies.get(name)
        metric = resolved[name]
        if tally is None or tally.last_verdict is None:
            continue
        latest = _latest(history, name)
        latest_message = latest.message if latest else f"{name}: {tally.last_verdict}"
        if metric is not None and metric.severity == "critical" and tally.failures > metric.failure_limit:
            failed = _latest(history, name, "fail")
            critical.append(
                f"{failed.message if failed else name + ' failed'} "
                f"({tally.failures} failure(s), failureLimit {metric.failure_limit})"
            )
        if metric is not None and metric.severity == "warning" and tally.last_verdict == "fail":
            warnings.append(latest_message)
        if tally.last_verdict == "inconclusive":
            no_data.append(latest_message)

    step_passed = bool(scope.step_metrics) and not critical
    for name in scope.step_metrics:
        tally = tallies.get(name)
        metric = resolved.get(name)
        if (
            metric is None
            or tally is None
            or tally.step_passes + tally.step_failures < metric.count
            # A failing warning metric warns (an Event and a condition) but does not hold the step.
            or (
                metric.severity == "critical"
                and (tally.step_failures > metric.failure_limit or tally.last_verdict == "fail")
            )
        ):
            step_passed = False
            break

    return AnalysisSummary(
        critical_failure="; ".join(critical) or None,
        warnings=tuple(warnings),
        no_data="; ".join(no_data) or None,
        step_passed=step_passed,
        verdict_changes=changes,
        undecided=None if step_passed else _undecided(scope, analysis, tallies, history, now),
    )


def _undecided(
    scope: AnalysisScope,
    analysis: AnalysisSpec,
    tallies: dict[str, MetricTally],
    history: list[Measurement],
    now: datetime,
) -> str | None:
    """Why the current step is still collecting evidence past spec.analysis.undecidedAfter, if it is."""
    if not scope.step_metrics or scope.step_since is None:
        return None
    bound = parse_duration(analysis.undecided_after)
    if (now - parse_time(scope.step_since)).total_seconds() <= bound:
        return None
    waiting = [name for name in scope.step_metrics if tallies.get(name) and tallies[name].last_verdict == "collecting"]
    if not waiting:
        return None
    latest = [m.message for name in waiting if (m := _latest(history, name)) is not None]
    return f"still undecided after {analysis.undecided_after}: " + "; ".join(latest or waiting)


def _phase(
    scope: AnalysisScope, tallies: dict[str, MetricTally], summary: AnalysisSummary
) -> Verdict | Literal["running"] | None:
    if summary.critical_failure:
        return "fail"
    if summary.step_passed:
        return "pass"
    if any(tallies.get(name) and tallies[name].last_verdict == "inconclusive" for name in scope.step_metrics):
        return "inconclusive"
    if any(tallies.get(name) and tallies[name].last_verdict == "collecting" for name in scope.step_metrics):
        return "collecting"
    return "running" if scope.active else None
