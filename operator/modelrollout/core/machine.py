"""The Rollout state machine: one pure pass from what is to what should be.

`reconcile` takes the Rollout's spec and status, the observed Deployments, Services and
ModelVersions, a pending control request, the analysis summary and the time, and returns the
next status plus desired-state actions. It never performs I/O, so a pass can be re-run after a
crash at any line: actions are desired states (not deltas) and progress lives only in status.

Safety rules every pass keeps:
- a Service is only pointed at a version with at least one ready pod;
- replicas are added before they are removed (scale-ups first, scale-downs once the other
  side is ready), so capacity never drops below what serves traffic;
- a version is scaled to zero only when no Service selects it any more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from modelrollout.api.common import ConditionStatus, format_time, parse_duration, parse_time, version_slug
from modelrollout.api.controls import ControlRequest
from modelrollout.api.labels import ROLLOUT_LABEL, VERSION_LABEL
from modelrollout.api.modelversion import LifecycleStage
from modelrollout.api.rollout import (
    AnalysisStatus,
    BlueGreenStatus,
    CanaryStep,
    HistoryEntry,
    Outcome,
    PendingScaleDown,
    Phase,
    RejectedTarget,
    RolloutSpec,
    RolloutStatus,
)
from modelrollout.core import naming
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
from modelrollout.core.weights import effective_weight, split_replicas

# How soon to look again while waiting on the cluster (readiness, endpoints).
WAIT_REQUEUE_SECONDS = 2.0


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


@dataclass(frozen=True)
class Decision:
    """The next status, the actions to apply first, and when to look again."""

    status: RolloutStatus
    actions: tuple[Action, ...]
    requeue_after: float | None


@dataclass
class _Pass:
    """Working state of one reconcile pass."""

    inp: RolloutInput
    status: RolloutStatus
    actions: list[Action] = field(default_factory=list)
    requeue: list[float] = field(default_factory=list)
    # Set when this pass started a new candidate: the analysis summary is about the old one.
    started: bool = False

    # ------------------------------------------------------------- helpers

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

    def since(self, moment: str | None) -> float:
        """Seconds from `moment` to now (0 when unknown)."""
        if not moment:
            return 0.0
        return (self.inp.now - parse_time(moment)).total_seconds()

    def wait(self, seconds: float = WAIT_REQUEUE_SECONDS) -> None:
        self.requeue.append(max(seconds, 0.5))

    def event(self, reason: str, message: str, warning: bool = False) -> None:
        self.actions.append(EmitEvent("Warning" if warning else "Normal", reason, message))

    def condition(self, type_: str, status: bool | None, reason: str, message: str = "") -> None:
        value: ConditionStatus = "Unknown" if status is None else ("True" if status else "False")
        self.status.conditions = set_condition(
            self.status.conditions, type_, value, reason, message, self.now_text, self.inp.generation
        )

    def stage(self, version: str | None, stage: LifecycleStage, reason: str) -> None:
        if version and version in self.observed.model_versions:
            self.actions.append(SetModelVersionStage(version, stage, reason))

    def label(self, version: str | None) -> str | None:
        """The version label value of a ModelVersion (None when it is unknown)."""
        if version is None:
            return None
        model_version = self.observed.model_versions.get(version)
        if model_version is not None:
            return version_slug(model_version.spec.version)
        deployment = self.observed.deployments.get(version)
        return deployment.label if deployment else None

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
        name = {
            "active": naming.active_service,
            "preview": naming.preview_service,
            "canary": naming.canary_service,
        }[role](self.inp.name)
        label = self.label(version) if version else None
        if version is not None and (label is None or self.observed.ready(version) < 1):
            return self.selects(name, label) if label else False
        self.actions.append(SetServiceSelector(name, role, label))
        return True

    def selects(self, service: str, label: str | None) -> bool:
        observed = self.observed.services.get(service)
        if observed is None:
            return False
        wanted = {ROLLOUT_LABEL: self.inp.name}
        if label is not None:
            wanted[VERSION_LABEL] = label
        return dict(observed.selector) == wanted

    def history(self, version: str, outcome: Outcome, reason: str) -> None:
        self.status.history.append(HistoryEntry(version=version, outcome=outcome, reason=reason, at=self.now_text))
        limit = self.spec.revision_history_limit
        self.status.history = self.status.history[-limit:] if limit else []

    # ------------------------------------------------------------- the pass

    def run(self) -> None:
        if self.inp.invalid:
            self.invalid()
            return
        if self.status.conditions and any(
            c.type == "InvalidSpec" and c.status == "True" for c in self.status.conditions
        ):
            self.condition("InvalidSpec", False, "SpecValid", "")
        if self.handle_control():
            return
        target = self.spec.target_version
        stable = self.status.stable_version
        candidate = self.status.candidate_version

        if stable is None or (stable not in self.observed.model_versions and stable not in self.observed.deployments):
            # Nothing serves yet (or what served is gone entirely): there is nothing to protect.
            self.initialize(target)
            return
        if target == stable:
            if candidate is not None:
                self.end_candidate("Cancelled", "targetVersion set back to the stable version", "staging")
            self.steady("Healthy")
            return
        rejected = self.status.rejected
        if rejected and rejected.version == target and rejected.generation == self.inp.generation:
            self.steady("RolledBack")
            return
        if candidate != target:
            if candidate is not None:
                self.end_candidate("Superseded", f"targetVersion changed to {target}", "staging")
            self.start(target)
        self.progress()

    def invalid(self) -> None:
        message = "; ".join(self.inp.invalid)
        already = any(
            c.type == "InvalidSpec" and c.status == "True" and c.message == message for c in self.status.conditions
        )
        self.condition("InvalidSpec", True, "InvalidSpec", message)
        self.status.phase = "Degraded"
        self.status.message = f"invalid spec: {message}"
        self.status.observed_generation = self.inp.generation
        if not already:
            self.event("InvalidSpec", message, warning=True)

    # ------------------------------------------------------------- controls

    def handle_control(self) -> bool:
        """Act on a new control request once; True when that finished the pass (abort)."""
        control = self.inp.control
        if control is None or control.raw == self.status.last_handled_control:
            return False
        self.status.last_handled_control = control.raw
        in_progress = self.status.candidate_version is not None
        verb = control.verb
        if verb == "pause":
            self.status.paused_by_user = True
        elif verb == "resume":
            self.status.paused_by_user = False
            self.status.progress_at = self.now_text
        elif verb == "retry":
            if self.status.rejected is not None:
                self.status.rejected = None
        elif not in_progress:
            self.event("ControlIgnored", f"{verb}: no rollout in progress")
            return False
        elif verb == "abort":
            self.reject("Aborted", "aborted by user")
            return True
        elif verb == "promote-full":
            self.status.promote_full = True
        elif verb == "promote":
            self.promote_one()
        self.event("Control", f"{verb} requested")
        return False

    def promote_one(self) -> None:
        """Promote: past the current canary step, or approve a blue-green switch."""
        if self.spec.strategy.blue_green is not None:
            bg = self.status.blue_green or BlueGreenStatus()
            bg.promotion_approved = True
            self.status.blue_green = bg
        elif self.spec.strategy.canary is not None:
            steps = self.spec.strategy.canary.steps
            step = self.status.current_step or 0
            if step < len(steps) and steps[step].set_weight is None:
                self.advance_step(f"step {step + 1}/{len(steps)} skipped by promote")

    # ------------------------------------------------------------- lifecycle

    def initialize(self, target: str) -> None:
        """No stable version yet: the target serves directly, there is nothing to protect."""
        replicas = self.spec.replicas
        if target not in self.observed.deployments or self.status.started_at is None:
            self.status.started_at = self.now_text  # a new first target: its deadline starts now
        self.ensure(target, replicas)
        # A first target replaced before it became ready: nothing selects it, so it goes.
        self.cleanup(keep={target})
        self.status.observed_generation = self.inp.generation
        if self.observed.ready(target) < 1:
            deadline = self.spec.progress_deadline_seconds
            if self.since(self.status.started_at) > deadline:
                # Nothing to roll back to: report it, and keep waiting in case it recovers.
                message = f"ProgressDeadlineExceeded: {target} has no ready replica after {deadline}s"
                if self.status.phase != "Degraded":
                    self.event("ProgressDeadlineExceeded", message, warning=True)
                self.status.phase = "Degraded"
                self.status.message = message
                self.condition("Progressing", False, "ProgressDeadlineExceeded", message)
            else:
                self.status.phase = "Initializing"
                self.status.message = f"waiting for {target} to become ready"
                self.condition("Progressing", True, "Initializing", self.status.message)
            self.condition("Available", False, "NoReadyReplicas", f"waiting for {target} to become ready")
            self.wait()
            return
        for role in self.service_roles():
            self.point(role, target)
        self.status.stable_version = target
        self.clear_candidate()
        self.stage(target, "production", f"initial version of rollout {self.inp.name}")
        self.event("Initialized", f"{target} serves all traffic")
        self.steady("Healthy")

    def start(self, target: str) -> None:
        self.status.candidate_version = target
        self.status.current_step = 0
        self.status.canary_weight = 0
        self.status.started_at = self.now_text
        self.status.step_started_at = self.now_text
        self.status.progress_at = self.now_text
        self.status.promote_full = False
        self.status.pause_reason = None
        self.status.blue_green = BlueGreenStatus() if self.spec.strategy.blue_green else None
        self.status.analysis = AnalysisStatus()
        self.status.rejected = None
        self.started = True
        self.stage(target, "candidate", f"rolled out by {self.inp.name}")
        self.event("RolloutStarted", f"rolling out {target} (stable {self.status.stable_version})")

    def end_candidate(self, outcome: Outcome, reason: str, stage: LifecycleStage) -> None:
        """The candidate leaves the rollout without promotion; traffic returns to stable."""
        candidate = self.status.candidate_version
        assert candidate is not None
        self.history(candidate, outcome, reason)
        self.stage(candidate, stage, reason)
        self.event(outcome, f"{candidate}: {reason}", warning=outcome in ("RolledBack", "Aborted"))
        self.clear_candidate()

    def clear_candidate(self) -> None:
        """No rollout in progress any more: forget the candidate's progress."""
        self.status.candidate_version = None
        self.status.current_step = None
        self.status.canary_weight = 0
        self.status.promote_full = False
        self.status.blue_green = None
        self.status.pause_reason = None

    def reject(self, outcome: Outcome, reason: str) -> None:
        """Roll back: all traffic to stable now, candidate rejected until spec change or retry."""
        candidate = self.status.candidate_version
        assert candidate is not None
        self.status.rejected = RejectedTarget(version=candidate, generation=self.inp.generation, reason=reason)
        self.end_candidate(outcome, reason, "rejected")
        self.steady("RolledBack", message=f"{candidate} {outcome.lower()}: {reason}")

    def promote(self) -> None:
        """The candidate becomes stable; the old stable is kept briefly, then scaled down."""
        candidate = self.status.candidate_version
        old = self.status.stable_version
        assert candidate is not None
        delay = self.scale_down_delay()
        if old and old != candidate:
            at = self.inp.now + timedelta(seconds=delay)
            bg = self.status.blue_green
            if bg and bg.promoted_at:
                at = max(at - timedelta(seconds=self.since(bg.promoted_at)), self.inp.now)
            self.status.pending_scale_downs = [
                p for p in self.status.pending_scale_downs if p.version not in (old, candidate)
            ] + [PendingScaleDown(version=old, at=format_time(at))]
            self.stage(old, "deprecated", f"replaced by {candidate}")
        self.stage(candidate, "production", f"promoted by {self.inp.name}")
        self.history(
            candidate,
            "Promoted",
            "all steps and analysis passed" if not self.status.promote_full else "promoted with --full",
        )
        self.event("Promoted", f"{candidate} is stable; {old} scales down in {delay}s")
        self.status.stable_version = candidate
        self.clear_candidate()
        self.steady("Healthy")

    def scale_down_delay(self) -> int:
        strategy = self.spec.strategy
        if strategy.blue_green is not None:
            return strategy.blue_green.scale_down_delay_seconds
        if strategy.canary is not None:
            return strategy.canary.scale_down_delay_seconds
        return 30

    def service_roles(self) -> tuple[ServiceRole, ...]:
        """The Services of the strategy, plus any left from an earlier one (they follow the stable
        version, or the version they still select could never be scaled down)."""
        roles: list[ServiceRole] = ["active"]
        if self.spec.strategy.blue_green is not None:
            roles.append("preview")
        if self.spec.strategy.canary is not None:
            roles.append("canary")
        if "preview" not in roles and naming.preview_service(self.inp.name) in self.observed.services:
            roles.append("preview")
        if "canary" not in roles and naming.canary_service(self.inp.name) in self.observed.services:
            roles.append("canary")
        return tuple(roles)

    # ------------------------------------------------------------- steady state

    def steady(self, phase: Phase, message: str | None = None) -> None:
        """No candidate: the stable version serves everything; old versions wind down."""
        stable = self.status.stable_version
        assert stable is not None
        self.ensure(stable, self.spec.replicas)
        for role in self.service_roles():
            self.point(role, stable)
        self.cleanup(keep={stable})
        ready = self.observed.ready(stable)
        self.status.phase = phase
        if message is not None:
            self.status.message = message
        elif phase == "Healthy":
            self.status.message = f"{stable} serves all traffic"
        self.status.observed_generation = self.inp.generation
        full = ready >= self.spec.replicas
        self.condition(
            "Available",
            ready >= 1,
            "ReplicasReady" if full else ("MinimumReplicasReady" if ready else "NoReadyReplicas"),
            f"{ready}/{self.spec.replicas} replicas of {stable} ready",
        )
        self.condition("Progressing", False, "NoRolloutInProgress", "")
        self.condition("Paused", False, "NotPaused", "")
        if phase == "Healthy":
            self.condition("Completed", True, "RolloutCompleted", f"{stable} is stable")
        if not full:
            self.wait()

    def cleanup(self, keep: set[str]) -> None:
        """Scale down versions out of play once their delay passed and nothing depends on them."""
        pending = {p.version: p for p in self.status.pending_scale_downs}
        still_pending: list[PendingScaleDown] = []
        for version, deployment in self.observed.deployments.items():
            if version in keep or deployment.replicas == 0:
                continue
            entry = pending.get(version)
            if entry is not None and parse_time(entry.at) > self.inp.now:
                still_pending.append(entry)
                self.wait((parse_time(entry.at) - self.inp.now).total_seconds())
                continue
            if self.selected(version):
                # A Service still selects it (the switch lands this pass): next pass.
                if entry is not None:
                    still_pending.append(entry)
                self.wait()
                continue
            self.ensure(version, 0)
            self.event("ScaledDown", f"{version} scaled to 0")
        self.status.pending_scale_downs = still_pending

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

    # ------------------------------------------------------------- progress

    def progress(self) -> None:
        self.status.observed_generation = self.inp.generation
        if self.status.candidate_version is None:
            return
        if self.finish_interrupted_rejection():
            return
        self.progress_strategy()
        stable, candidate = self.status.stable_version, self.status.candidate_version
        if candidate is not None and stable is not None:
            self.cleanup(keep={stable, candidate})

    def finish_interrupted_rejection(self) -> bool:
        """A rollback whose actions landed but whose status write did not (the operator died
        in between): the candidate's registry entry already says this Rollout rejected it, so
        finish the rollback instead of carrying on with the rollout."""
        candidate = self.status.candidate_version
        model_version = self.observed.model_versions.get(candidate) if candidate else None
        if self.started or model_version is None or model_version.status is None:
            return False
        entry = model_version.status
        if entry.stage != "rejected" or entry.rollout != self.inp.name:
            return False
        self.reject("RolledBack", entry.reason or "rejected before the operator restarted")
        return True

    def progress_strategy(self) -> None:
        summary = self.summary
        # Verdict events first, so the failing metric's own event exists even when it rolls back.
        for metric, verdict in summary.verdict_changes:
            self.event("AnalysisVerdict", f"{metric}: {verdict}", warning=verdict == "fail")
        if summary.critical_failure and not self.status.promote_full:
            self.condition("AnalysisFailed", True, "CriticalMetricFailed", summary.critical_failure)
            self.reject("RolledBack", summary.critical_failure)
            return
        if summary.warnings:
            self.condition("MetricWarning", True, "WarningMetricFailed", "; ".join(summary.warnings))
        else:
            self.condition("MetricWarning", False, "NoWarnings", "")

        no_data = summary.no_data if not self.status.promote_full else None
        policy = self.spec.analysis.on_no_data if self.spec.analysis else "pause"
        if no_data and policy == "rollback":
            reason = f"no data: {no_data}"
            self.condition("AnalysisFailed", True, "InconclusiveAnalysis", f"onNoData is rollback; {reason}")
            self.reject("RolledBack", reason)
            return
        self.condition("AnalysisFailed", False, "NoCriticalFailure", "")
        if no_data and policy == "pause":
            self.hold(f"analysis inconclusive: {no_data}", "InconclusiveAnalysis")
            return
        if self.status.paused_by_user or self.spec.paused:
            self.hold("paused by user" if self.status.paused_by_user else "spec.paused is true", "PausedByUser")
            return
        if self.status.phase == "Paused":
            self.status.progress_at = self.now_text  # a pause does not count against the deadline
        self.status.pause_reason = None
        if self.spec.strategy.blue_green is not None:
            self.blue_green()
        elif self.spec.strategy.canary is not None:
            self.canary()
        else:
            self.status.phase = "Degraded"
            self.status.message = "abTest rollouts are not supported by this operator version yet"
            self.condition("Progressing", False, "StrategyNotSupported", self.status.message)

    def hold(self, reason: str, condition_reason: str) -> None:
        """Keep traffic and replicas where they are; take no step."""
        self.pause(reason, condition_reason, warning=condition_reason == "InconclusiveAnalysis")
        self.keep_current_shape()
        self.wait()

    def pause(self, reason: str, condition_reason: str, warning: bool = False) -> None:
        """Phase Paused for `reason`; the Event only when the rollout was not already paused for it."""
        if self.inp.status.pause_reason != reason:
            self.event("Paused", reason, warning=warning)
        self.status.phase = "Paused"
        self.status.pause_reason = reason
        self.status.message = reason
        self.condition("Paused", True, condition_reason, reason)

    def keep_current_shape(self) -> None:
        """Re-assert the replica counts already in place; a deleted stable Deployment comes back."""
        for version in (self.status.stable_version, self.status.candidate_version):
            if version is not None and version in self.observed.deployments:
                self.ensure(version, self.observed.replicas(version))
        if self.status.stable_version not in self.observed.deployments:
            self.ensure(self.status.stable_version, self.spec.replicas)

    def deadline_exceeded(self, waiting_for: str) -> bool:
        """Abort when readiness has not come within progressDeadlineSeconds of the last progress."""
        if self.since(self.status.progress_at) <= self.spec.progress_deadline_seconds:
            self.wait()
            return False
        self.reject(
            "Aborted",
            f"ProgressDeadlineExceeded: {waiting_for} not ready within {self.spec.progress_deadline_seconds}s",
        )
        return True

    def advance_step(self, reason: str) -> None:
        step = (self.status.current_step or 0) + 1
        self.status.current_step = step
        self.status.step_started_at = self.now_text
        self.status.progress_at = self.now_text
        self.in_progress("Progressing", reason)
        self.event("StepCompleted", reason)

    def in_progress(self, phase: Phase, message: str) -> None:
        self.status.phase = phase
        self.status.message = message
        self.condition("Progressing", True, "RolloutInProgress", message)
        self.condition("Paused", False, "NotPaused", "")
        self.condition("Completed", False, "RolloutInProgress", "")

    # ------------------------------------------------------------- canary

    def canary(self) -> None:
        canary = self.spec.strategy.canary
        assert canary is not None
        candidate = self.status.candidate_version
        stable = self.status.stable_version
        assert candidate is not None and stable is not None
        steps = canary.steps
        if self.status.promote_full:
            self.canary_finish("promote --full")
            return
        step_index = self.status.current_step or 0
        if step_index >= len(steps):
            self.canary_finish("all steps done")
            return
        step = steps[step_index]
        label = f"step {step_index + 1}/{len(steps)}"
        if step.set_weight is not None:
            self.canary_set_weight(step.set_weight, label)
            return
        self.apply_weight(self.current_weight(steps, step_index))
        if step.pause is not None:
            self.canary_pause(step, label)
        elif step.analysis is not None:
            if self.summary.step_passed:
                self.advance_step(f"{label}: analysis passed")
                self.wait(0.5)
            else:
                self.in_progress("Progressing", f"{label}: analysis of {', '.join(step.analysis.metrics)} running")
                self.wait()

    @staticmethod
    def current_weight(steps: list[CanaryStep], index: int) -> int:
        """The weight in force at step `index`: the last setWeight before it."""
        for step in reversed(steps[:index]):
            if step.set_weight is not None:
                return step.set_weight
        return 0

    def apply_weight(self, weight: int) -> bool:
        """Move replicas towards `weight`, scale-ups first; True once in place and ready."""
        candidate = self.status.candidate_version
        stable = self.status.stable_version
        assert candidate is not None and stable is not None
        want_candidate, want_stable = split_replicas(self.spec.replicas, weight)
        have_candidate = self.observed.replicas(candidate)
        have_stable = self.observed.replicas(stable)
        candidate_ready = self.observed.ready(candidate)
        stable_ready = self.observed.ready(stable)
        # Both versions serve (the active Service selects every version) as last observed.
        both_serve = self.selects(naming.active_service(self.inp.name), None)
        # Grow first; shrink a side only when the other side's new pods are ready and serve, and
        # scale the candidate to zero only once no Service selects it any more.
        next_candidate = want_candidate
        next_stable = want_stable
        if want_candidate < have_candidate and (
            stable_ready < want_stable or (want_candidate == 0 and self.observed_selects(candidate))
        ):
            next_candidate = have_candidate
        if want_stable < have_stable and (candidate_ready < want_candidate or (want_candidate > 0 and not both_serve)):
            next_stable = have_stable
        self.ensure(candidate, next_candidate)
        self.ensure(stable, next_stable)
        # Both versions behind the active Service once the candidate has a ready pod and no
        # third version still has pods that a selector over every version would pick up; at
        # weight 0, until the stable version is back to its replicas.
        keep_both = both_serve and stable_ready < want_stable
        if candidate_ready >= 1 and (want_candidate > 0 or keep_both) and self.others_drained({stable, candidate}):
            self.point("active", None)
        elif stable_ready >= 1:
            self.point("active", stable)
        # The canary Service selects the candidate while it has ready pods with a weight.
        self.point("canary", candidate if want_candidate > 0 and candidate_ready >= 1 else stable)
        in_place = (
            have_candidate == want_candidate
            and have_stable == want_stable
            and candidate_ready >= want_candidate
            and stable_ready >= want_stable
        )
        if not both_serve:
            self.status.canary_weight = 0
        elif in_place:
            self.status.canary_weight = weight
        else:
            self.status.canary_weight = effective_weight(
                min(candidate_ready, have_candidate), min(stable_ready, have_stable)
            )
        return in_place

    def canary_set_weight(self, weight: int, label: str) -> None:
        candidate = self.status.candidate_version
        stable = self.status.stable_version
        in_place = self.apply_weight(weight)
        if in_place and (weight == 0 or self.selects(naming.active_service(self.inp.name), None)):
            self.advance_step(f"{label}: weight {weight}% reached")
            self.in_progress("Progressing", f"{label}: weight {weight}%")
            self.wait(0.5)
            return
        assert candidate is not None and stable is not None
        if self.observed.ready(candidate) >= split_replicas(self.spec.replicas, weight)[0] and not (
            self.others_drained({stable, candidate})
        ):
            # Ready, but an older version still runs out its scale-down delay before both versions
            # can share the stable Service: that is not a lack of progress.
            self.status.progress_at = self.now_text
            self.in_progress("Progressing", f"{label}: waiting for older versions to scale down")
            self.wait()
            return
        self.in_progress("Progressing", f"{label}: scaling {candidate} and {stable} to weight {weight}%")
        self.deadline_exceeded(f"{candidate} at weight {weight}%")

    def canary_pause(self, step: CanaryStep, label: str) -> None:
        assert step.pause is not None
        if step.pause.duration is None:
            self.pause(f"{label}: paused until promoted", "CanaryPauseStep")
            return
        remaining = parse_duration(step.pause.duration) - self.since(self.status.step_started_at)
        if remaining <= 0:
            self.advance_step(f"{label}: pause of {step.pause.duration} done")
            self.wait(0.5)
            return
        # The end time, not a countdown: the message (and so status) stays the same while pausing.
        until = format_time(self.inp.now + timedelta(seconds=remaining))
        self.in_progress("Progressing", f"{label}: pausing {step.pause.duration} until {until}")
        self.wait(remaining)

    def canary_finish(self, why: str) -> None:
        """Full weight on the candidate, then it becomes the stable version."""
        candidate = self.status.candidate_version
        stable = self.status.stable_version
        assert candidate is not None and stable is not None
        replicas = self.spec.replicas
        self.ensure(candidate, replicas)
        # The old stable keeps its pods until the switch; scale-down happens after the delay.
        self.ensure(stable, self.observed.replicas(stable))
        if self.observed.ready(candidate) < replicas or self.observed.replicas(candidate) != replicas:
            self.in_progress("Promoting", f"{why}: scaling {candidate} to {replicas} replicas")
            self.deadline_exceeded(f"{candidate} at {replicas} replicas")
            return
        self.point("active", candidate)
        self.point("canary", candidate)
        self.status.canary_weight = 100
        self.promote()

    # ------------------------------------------------------------- blue-green

    def blue_green(self) -> None:
        strategy = self.spec.strategy.blue_green
        assert strategy is not None
        candidate = self.status.candidate_version
        stable = self.status.stable_version
        assert candidate is not None and stable is not None
        bg = self.status.blue_green or BlueGreenStatus()
        self.status.blue_green = bg
        replicas = self.spec.replicas
        self.ensure(candidate, replicas)
        self.ensure(stable, replicas)

        if bg.promoted_at is None:
            self.point("active", stable)
            if self.observed.ready(candidate) < replicas:
                self.point("preview", stable)
                self.in_progress("Progressing", f"waiting for {candidate} to become available")
                self.deadline_exceeded(candidate)
                return
            self.point("preview", candidate)
            if bg.preview_ready_at is None:
                bg.preview_ready_at = self.now_text
                self.status.step_started_at = self.now_text
                self.status.progress_at = self.now_text
                self.event("PreviewReady", f"{naming.preview_service(self.inp.name)} selects {candidate}")
            if strategy.pre_promotion_analysis and not (self.summary.step_passed or self.status.promote_full):
                self.in_progress("Progressing", "pre-promotion analysis running on the preview")
                self.wait()
                return
            if not (bg.promotion_approved or self.status.promote_full):
                if not strategy.auto_promotion_enabled:
                    self.pause("preview ready: waiting for promote", "BlueGreenPause")
                    return
                remaining = strategy.auto_promotion_seconds - self.since(bg.preview_ready_at)
                if remaining > 0:
                    until = format_time(self.inp.now + timedelta(seconds=remaining))
                    self.in_progress("Progressing", f"preview ready; auto-promotion at {until}")
                    self.wait(remaining)
                    return
            self.point("active", candidate)
            bg.promoted_at = self.now_text
            self.status.step_started_at = self.now_text
            self.status.analysis = self.status.analysis or AnalysisStatus()
            self.event("Switched", f"{naming.active_service(self.inp.name)} selects {candidate}")
            if strategy.post_promotion_analysis and not self.status.promote_full:
                self.in_progress("Promoting", "post-promotion analysis running")
                self.wait()
                return
            self.promote()
            return

        # Switched: post-promotion analysis decides whether the candidate stays.
        if self.observed.ready(candidate) < 1 and self.observed.ready(stable) >= 1:
            self.reject("RolledBack", f"{candidate} has no ready pod after the switch")
            return
        self.point("active", candidate)
        self.point("preview", candidate)
        if strategy.post_promotion_analysis and not (self.summary.step_passed or self.status.promote_full):
            self.in_progress("Promoting", "post-promotion analysis running")
            self.wait()
            return
        self.promote()


def reconcile(inp: RolloutInput) -> Decision:
    """One pass of the state machine."""
    work = _Pass(inp=inp, status=inp.status.model_copy(deep=True))
    work.run()
    requeue = min(work.requeue) if work.requeue else None
    return Decision(status=work.status, actions=_dedupe(work.actions), requeue_after=requeue)


def _dedupe(actions: list[Action]) -> tuple[Action, ...]:
    """Keep the last desired state per Deployment/Service and every event, in order."""
    last_index: dict[tuple[str, str], int] = {}
    for index, action in enumerate(actions):
        if isinstance(action, EnsureDeployment):
            last_index[("deployment", action.version)] = index
        elif isinstance(action, SetServiceSelector):
            last_index[("service", action.service)] = index
        elif isinstance(action, SetModelVersionStage):
            last_index[("stage", action.version)] = index
    kept: list[Action] = []
    for index, action in enumerate(actions):
        key: tuple[str, str] | None = None
        if isinstance(action, EnsureDeployment):
            key = ("deployment", action.version)
        elif isinstance(action, SetServiceSelector):
            key = ("service", action.service)
        elif isinstance(action, SetModelVersionStage):
            key = ("stage", action.version)
        if key is None or last_index[key] == index:
            kept.append(action)
    return tuple(kept)
