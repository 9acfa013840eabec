"""The operator's own metrics (`modelrollout_*`), recorded from each pass's status and decision.

Per-Rollout gauges come from the last status seen, so they are right after a restart too; counters
(promotions, rollbacks, decisions, verdicts) count what this process decided. Nothing here is read
back by the operator: metrics describe decisions, they never make them.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import get_args

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from modelrollout.api.rollout import HistoryEntry, Measurement, Phase, RolloutSpec, RolloutStatus, Verdict
from modelrollout.core.actions import Action, EmitEvent

PHASES: tuple[str, ...] = get_args(Phase)
VERDICTS: tuple[str, ...] = get_args(Verdict)
ROLLBACK_OUTCOMES = ("RolledBack", "Aborted")
Key = tuple[str, str]


@dataclass(frozen=True)
class RolloutSnapshot:
    """What the gauges show for one Rollout."""

    phase: str | None
    strategy: str
    stable: str
    candidate: str
    weight: int
    step: int | None
    measurements: tuple[Measurement, ...]


def strategy_name(spec: RolloutSpec | None) -> str:
    if spec is None:
        return "unknown"
    strategy = spec.strategy
    if strategy.blue_green is not None:
        return "blueGreen"
    if strategy.canary is not None:
        return "canary"
    return "abTest" if strategy.ab_test is not None else "unknown"


def latest_measurements(measurements: Iterable[Measurement]) -> tuple[Measurement, ...]:
    """The newest measurement per (metric, version): status keeps a bounded list, oldest first."""
    latest: dict[tuple[str, str], Measurement] = {}
    for measurement in measurements:
        latest[(measurement.metric, measurement.version)] = measurement
    return tuple(latest.values())


def outcome_reason(outcome: str, reason: str, status: RolloutStatus) -> str:
    """A bounded label for why a rollout ended (history reasons are free text)."""
    if outcome == "Promoted":
        return "PromoteFull" if reason == "promoted with --full" else "AnalysisPassed"
    if reason == "aborted by user":
        return "UserAbort"
    if reason.startswith("ProgressDeadlineExceeded"):
        return "ProgressDeadlineExceeded"
    failed = next((c for c in status.conditions if c.type == "AnalysisFailed" and c.status == "True"), None)
    if failed is not None:
        return failed.reason
    if "no ready pod" in reason:
        return "NoReadyPods"
    return "Other"


class _RolloutCollector(Collector):
    def __init__(self, metrics: OperatorMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        snapshots = self.metrics.snapshots()
        labels = ["namespace", "rollout"]
        info = GaugeMetricFamily(
            "modelrollout_rollout_info",
            "A Rollout's strategy and versions (always 1).",
            labels=[*labels, "strategy", "stable_version", "candidate_version"],
        )
        phase = GaugeMetricFamily(
            "modelrollout_rollout_phase",
            "1 for the Rollout's current phase, 0 for the others.",
            labels=[*labels, "phase"],
        )
        by_phase = GaugeMetricFamily("modelrollout_rollouts", "Rollouts by phase.", labels=["phase"])
        weight = GaugeMetricFamily(
            "modelrollout_canary_weight", "Percent of traffic on the candidate now.", labels=labels
        )
        step = GaugeMetricFamily("modelrollout_canary_step", "Index of the current canary step.", labels=labels)
        measure = [*labels, "metric", "version"]
        value = GaugeMetricFamily("modelrollout_analysis_value", "Last measured value of a metric.", labels=measure)
        baseline = GaugeMetricFamily(
            "modelrollout_analysis_baseline",
            "The stable version's value the last measurement compared to.",
            labels=measure,
        )
        lower = GaugeMetricFamily(
            "modelrollout_analysis_interval_lower", "Lower end of the last measurement's interval.", labels=measure
        )
        upper = GaugeMetricFamily(
            "modelrollout_analysis_interval_upper", "Upper end of the last measurement's interval.", labels=measure
        )
        samples = GaugeMetricFamily(
            "modelrollout_analysis_samples", "Sample size behind the last measurement.", labels=measure
        )
        verdict = GaugeMetricFamily(
            "modelrollout_analysis_verdict",
            "1 for the last measurement's verdict, 0 for the others.",
            labels=[*measure, "verdict"],
        )
        counts = dict.fromkeys(PHASES, 0)
        for (namespace, name), snap in sorted(snapshots.items()):
            info.add_metric([namespace, name, snap.strategy, snap.stable, snap.candidate], 1)
            for candidate_phase in PHASES:
                phase.add_metric([namespace, name, candidate_phase], 1.0 if snap.phase == candidate_phase else 0.0)
            if snap.phase in counts:
                counts[snap.phase] += 1
            weight.add_metric([namespace, name], snap.weight)
            if snap.step is not None:
                step.add_metric([namespace, name], snap.step)
            for m in snap.measurements:
                key = [namespace, name, m.metric, m.version]
                if m.value is not None:
                    value.add_metric(key, m.value)
                if m.baseline is not None:
                    baseline.add_metric(key, m.baseline)
                for family, number in ((lower, m.lower), (upper, m.upper), (samples, m.samples)):
                    if number is not None and math.isfinite(number):
                        family.add_metric(key, number)
                for candidate_verdict in VERDICTS:
                    verdict.add_metric([*key, candidate_verdict], 1.0 if m.verdict == candidate_verdict else 0.0)
        for phase_name, count in counts.items():
            by_phase.add_metric([phase_name], count)
        yield from (info, phase, by_phase, weight, step, value, baseline, lower, upper, samples, verdict)


class OperatorMetrics:
    """Every `modelrollout_*` series, in a registry of its own (served by `modelrollout run --metrics-port`)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._lock = threading.Lock()
        self._rollouts: dict[Key, RolloutSnapshot] = {}
        self.reconcile_seconds = Histogram(
            "modelrollout_reconcile_duration_seconds",
            "Duration of one reconcile pass of one Rollout.",
            ["result"],
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )
        self.promotions = Counter(
            "modelrollout_promotions_total",
            "Candidates promoted to stable.",
            ["namespace", "rollout", "reason"],
            registry=self.registry,
        )
        self.rollbacks = Counter(
            "modelrollout_rollbacks_total",
            "Candidates rolled back or aborted.",
            ["namespace", "rollout", "outcome", "reason"],
            registry=self.registry,
        )
        self.decisions = Counter(
            "modelrollout_decisions_total",
            "Decisions by the Event reason they were announced with (StepCompleted, Paused, Promoted, ...).",
            ["namespace", "rollout", "reason"],
            registry=self.registry,
        )
        self.verdicts = Counter(
            "modelrollout_analysis_verdicts_total",
            "Measurements taken, by verdict.",
            ["namespace", "rollout", "metric", "verdict"],
            registry=self.registry,
        )
        self.api_errors = Counter(
            "modelrollout_api_errors_total",
            "Failed calls to the Kubernetes API, by HTTP status (`connection` when there was none).",
            ["code"],
            registry=self.registry,
        )
        self.notifications = Counter(
            "modelrollout_notifications_total",
            "Webhook notifications by result (sent, failed after retries, dropped when the queue was full).",
            ["webhook", "result"],
            registry=self.registry,
        )
        self.registry.register(_RolloutCollector(self))

    def snapshots(self) -> dict[Key, RolloutSnapshot]:
        with self._lock:
            return dict(self._rollouts)

    def forget(self, namespace: str, name: str) -> None:
        with self._lock:
            self._rollouts.pop((namespace, name), None)

    def record(
        self,
        namespace: str,
        name: str,
        spec: RolloutSpec | None,
        before: RolloutStatus,
        after: RolloutStatus,
        actions: Sequence[Action],
        now: datetime | None = None,
    ) -> None:
        """One pass: the new status for the gauges; what changed since `before` for the counters."""
        snapshot = RolloutSnapshot(
            phase=after.phase,
            strategy=strategy_name(spec),
            stable=after.stable_version or "",
            candidate=after.candidate_version or "",
            weight=after.canary_weight or 0,
            step=after.current_step,
            measurements=latest_measurements(after.analysis.measurements if after.analysis else ()),
        )
        with self._lock:
            self._rollouts[(namespace, name)] = snapshot
        for action in actions:
            if isinstance(action, EmitEvent):
                self.decisions.labels(namespace, name, action.reason).inc()
        for entry in new_history(before, after):
            reason = outcome_reason(entry.outcome, entry.reason, after)
            if entry.outcome == "Promoted":
                self.promotions.labels(namespace, name, reason).inc()
            elif entry.outcome in ROLLBACK_OUTCOMES:
                self.rollbacks.labels(namespace, name, entry.outcome, reason).inc()
        seen = {(m.metric, m.version, m.at) for m in (before.analysis.measurements if before.analysis else ())}
        for m in after.analysis.measurements if after.analysis else ():
            if (m.metric, m.version, m.at) not in seen:
                self.verdicts.labels(namespace, name, m.metric, m.verdict).inc()


def new_history(before: RolloutStatus, after: RolloutStatus) -> list[HistoryEntry]:
    """History entries this pass appended. History is bounded (the oldest are trimmed), so the new
    entries are those after the one that was newest before."""
    if not before.history:
        return list(after.history)
    last = before.history[-1]
    for index in range(len(after.history) - 1, -1, -1):
        entry = after.history[index]
        if (entry.version, entry.outcome, entry.at) == (last.version, last.outcome, last.at):
            return list(after.history[index + 1 :])
    return list(after.history)
