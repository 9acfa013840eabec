"""The shared context of one reconcile pass: its input, working status, actions and helpers.

Each concern (lifecycle, canary, blue-green, pause, analysis gating, traffic routing) is a
module of functions over this context. Phase and message are not written by them: they
`report` one, and the pass settles the last report into status in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from modelrollout.api.common import ConditionStatus, format_time, parse_time, version_slug
from modelrollout.api.controls import ControlRequest
from modelrollout.api.labels import ROLLOUT_LABEL, VERSION_LABEL
from modelrollout.api.modelversion import LifecycleStage
from modelrollout.api.rollout import HistoryEntry, Outcome, Phase, RolloutSpec, RolloutStatus
from modelrollout.core import naming, reasons
from modelrollout.core.actions import (
    Action,
    EmitEvent,
    EnsureDeployment,
    ServiceRole,
    SetModelVersionStage,
    SetServiceSelector,
)
from modelrollout.core.analysis_contract import NO_ANALYSIS, AnalysisSummary
from modelrollout.core.conditions import set_condition
from modelrollout.core.observed import Observed

# How soon to look again while waiting on the cluster (readiness, endpoints).
WAIT_REQUEUE_SECONDS = 2.0

SERVICE_NAMES: dict[str, Callable[[str], str]] = {
    "active": naming.active_service,
    "preview": naming.preview_service,
    "canary": naming.canary_service,
}


@dataclass(frozen=True)
class RolloutInput:
    """Everything one pass decides from."""

    name: str
    namespace: str
    generation: int
    spec: RolloutSpec
    status: RolloutStatus
    observed: Observed
    now: datetime
    control: ControlRequest | None = None
    analysis: AnalysisSummary = NO_ANALYSIS
    # Semantic validation messages (api.validation); non-empty means InvalidSpec.
    invalid: tuple[str, ...] = ()


@dataclass
class Pass:
    """Working state of one reconcile pass."""

    inp: RolloutInput
    status: RolloutStatus
    actions: list[Action] = field(default_factory=list)
    requeue: list[float] = field(default_factory=list)
    # Set when this pass started a new candidate: the analysis summary is about the old one.
    started: bool = False
    # The phase and message this pass reports (None: unchanged); settled into status at the end.
    reported_phase: Phase | None = None
    reported_message: str | None = None

    # ------------------------------------------------------------- reading

    @property
    def spec(self) -> RolloutSpec:
        return self.inp.spec

    @property
    def observed(self) -> Observed:
        return self.inp.observed

    @property
    def now_text(self) -> str:
        return format_time(self.inp.now)

    @property
    def summary(self) -> AnalysisSummary:
        """The analysis summary, unless this pass started a new candidate (it is about the old one)."""
        return NO_ANALYSIS if self.started else self.inp.analysis

    @property
    def phase(self) -> Phase | None:
        """The phase as this pass has it so far (the last report, else the one it started from)."""
        return self.reported_phase or self.status.phase

    def since(self, moment: str | None) -> float:
        """Seconds from `moment` to now (0 when unknown)."""
        if not moment:
            return 0.0
        return (self.inp.now - parse_time(moment)).total_seconds()

    def label(self, version: str | None) -> str | None:
        """The version label value of a ModelVersion (None when it is unknown)."""
        if version is None:
            return None
        model_version = self.observed.model_versions.get(version)
        if model_version is not None:
            return version_slug(model_version.spec.version)
        deployment = self.observed.deployments.get(version)
        return deployment.label if deployment else None

    def selects(self, service: str, label: str | None) -> bool:
        """Whether `service` selects `label` (None: every version) as last observed."""
        observed = self.observed.services.get(service)
        if observed is None:
            return False
        wanted = {ROLLOUT_LABEL: self.inp.name}
        if label is not None:
            wanted[VERSION_LABEL] = label
        return dict(observed.selector) == wanted

    def selected(self, version: str) -> bool:
        """Whether an owned Service selects `version`, as observed or as set in this pass."""
        label = self.label(version)
        selectors: list[str | None] = [
            dict(service.selector).get(VERSION_LABEL) for service in self.observed.services.values()
        ]
        selectors += [a.version_label for a in self.actions if isinstance(a, SetServiceSelector)]
        return any(selector is None or selector == label for selector in selectors)

    def observed_selects(self, version: str) -> bool:
        """Whether an owned Service selects `version` (or every version) as last observed."""
        label = self.label(version)
        return any(
            dict(service.selector).get(VERSION_LABEL) in (None, label) for service in self.observed.services.values()
        )

    def others_drained(self, keep: set[str]) -> bool:
        """No version besides `keep` has pods: a selector over every version is then safe."""
        return all(d.replicas == 0 and d.ready == 0 for v, d in self.observed.deployments.items() if v not in keep)

    # ------------------------------------------------------------- deciding

    def report(self, phase: Phase, message: str | None = None) -> None:
        """The phase (and message; None keeps the last one) this pass ends in, unless a later step reports."""
        self.reported_phase = phase
        if message is not None:
            self.reported_message = message

    def wait(self, seconds: float = WAIT_REQUEUE_SECONDS) -> None:
        self.requeue.append(max(seconds, 0.5))

    def proceed(self) -> None:
        """The next pass at once: this one made progress (a step advanced) and the next step can act."""
        self.requeue.append(0.0)

    def event(self, reason: str, message: str, warning: bool = False) -> None:
        self.actions.append(EmitEvent("Warning" if warning else "Normal", reason, message))

    def condition(self, type_: str, status: bool | None, reason: str, message: str = "") -> None:
        value: ConditionStatus = "Unknown" if status is None else ("True" if status else "False")
        self.status.conditions = set_condition(
            self.status.conditions, type_, value, reason, message, self.now_text, self.inp.generation
        )

    def in_progress(self, phase: Phase, message: str) -> None:
        """A rollout moving on: Progressing, not paused, not completed."""
        self.report(phase, message)
        self.condition(reasons.PROGRESSING, True, reasons.ROLLOUT_IN_PROGRESS, message)
        self.condition(reasons.PAUSED, False, reasons.NOT_PAUSED, "")
        self.condition(reasons.COMPLETED, False, reasons.ROLLOUT_IN_PROGRESS, "")

    def stage(self, version: str | None, stage: LifecycleStage, reason: str) -> None:
        if version and version in self.observed.model_versions:
            self.actions.append(SetModelVersionStage(version, stage, reason))

    def ensure(self, version: str | None, replicas: int) -> None:
        if version is None:
            return
        if version not in self.observed.model_versions and version not in self.observed.deployments:
            return
        self.actions.append(EnsureDeployment(version, replicas))

    def point(self, role: ServiceRole, version: str | None) -> bool:
        """Point a Service at `version` (None: every version of the rollout) if it has ready pods.

        Returns whether the Service now selects (or already selected) that target.
        """
        return self.point_service(SERVICE_NAMES[role](self.inp.name), role, version)

    def point_service(self, name: str, role: ServiceRole, version: str | None) -> bool:
        """`point` for a Service by name (an A/B variant's)."""
        label = self.label(version) if version else None
        if version is not None and (label is None or self.observed.ready(version) < 1):
            return self.selects(name, label) if label else False
        self.actions.append(SetServiceSelector(name, role, label))
        return True

    def history(self, version: str, outcome: Outcome, reason: str) -> None:
        self.status.history.append(HistoryEntry(version=version, outcome=outcome, reason=reason, at=self.now_text))
        limit = self.spec.revision_history_limit
        self.status.history = self.status.history[-limit:] if limit else []

    def settle(self) -> None:
        """Phase and message land in status here, and only here."""
        if self.reported_phase is not None:
            self.status.phase = self.reported_phase
        if self.reported_message is not None:
            self.status.message = self.reported_message
