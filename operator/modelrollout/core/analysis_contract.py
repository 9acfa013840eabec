"""What the core asks of analysis, and what analysis tells the core back.

The core decides *which* metrics matter now (it knows the phase and step); `modelrollout.analysis`
decides *when* each is due, evaluates measurements and folds them into a summary; the core acts
on the summary (advance, pause, roll back, warn).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AnalysisScope:
    """The metrics active at this moment of a rollout, for one version under test."""

    # ModelVersion under test and its version label value (the {{version}} of templates).
    version: str
    version_label: str
    # Stable version (the baseline for ratio thresholds) and its label value; None when none serves.
    stable_version: str | None
    stable_label: str | None
    # Metrics an analysis step or a blue-green pre/post-promotion analysis is waiting on.
    step_metrics: tuple[str, ...] = ()
    # Metrics measured continuously while the rollout is in progress.
    background_metrics: tuple[str, ...] = ()
    # When the version under test started receiving traffic (RFC 3339); initialDelay counts from here.
    traffic_since: str | None = None
    # When the current analysis step began (RFC 3339); only measurements after it count for the step.
    step_since: str | None = None

    @property
    def active(self) -> bool:
        return bool(self.step_metrics or self.background_metrics)


@dataclass(frozen=True)
class AnalysisSummary:
    """The folded verdict of every measurement so far for the current scope."""

    # A critical metric whose failures exceed its failureLimit: the message names metric and value.
    critical_failure: str | None = None
    # Warning-severity metrics currently failing (messages); they never roll back.
    warnings: tuple[str, ...] = ()
    # Inconclusive measurement (no data, NaN, query error) of a metric in scope: what was missing.
    no_data: str | None = None
    # Every step metric has taken its `count` measurements since the step began, all conclusive,
    # with failures within the limit.
    step_passed: bool = False
    # Metric names whose verdict changed in this pass, with the new verdict (for Events).
    verdict_changes: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    # The current step is still collecting evidence past spec.analysis.undecidedAfter: why. Not "no
    # data" (onNoData does not apply); spec.analysis.onUndecided says what happens. Never a pass.
    undecided: str | None = None


NO_ANALYSIS = AnalysisSummary()
