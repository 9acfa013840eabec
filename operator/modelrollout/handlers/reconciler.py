"""One reconcile pass for one Rollout: observe -> validate -> analyse -> core -> apply -> status.

Runs in a worker thread (all I/O here is blocking). Safe to kill at any line: the core's
actions are desired states, and the status write is guarded by the resourceVersion read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError

from modelrollout.adapters.kube import (
    ApiException,
    KubeGateway,
    KubeReader,
    KubeWriter,
    api_error_message,
    template_images,
)
from modelrollout.adapters.manifests import deployment_manifest, service_manifest
from modelrollout.adapters.routes import RouteGateway
from modelrollout.api.common import ConditionStatus, format_time
from modelrollout.api.controls import CONTROL_ANNOTATION, parse_control
from modelrollout.api.modelversion import ModelVersion
from modelrollout.api.rollout import ABTestStatus, AnalysisStatus, RolloutSpec, RolloutStatus
from modelrollout.api.settings import OperatorSettings
from modelrollout.api.validation import validate_rollout
from modelrollout.core import naming, reasons
from modelrollout.core.abtest_scope import ABScope, ab_scope
from modelrollout.core.actions import (
    Action,
    DeleteDeployment,
    EmitEvent,
    EnsureDeployment,
    SetModelVersionCondition,
    SetModelVersionStage,
    SetServiceSelector,
    SetTrafficSplit,
    SetVariantSplit,
)
from modelrollout.core.analysis_contract import NO_ANALYSIS, AnalysisScope, AnalysisSummary
from modelrollout.core.compatibility import compatibility_conflicts
from modelrollout.core.conditions import set_condition
from modelrollout.core.connections import connection_problems, subscription_problems
from modelrollout.core.failure import applied_status, failed_status
from modelrollout.core.invalid import unreadable_spec_status
from modelrollout.core.lifecycle import with_stage
from modelrollout.core.machine import RolloutInput, reconcile
from modelrollout.core.observed import ChildObject, DeploymentState, Observed, RouteState, ServiceState
from modelrollout.core.ownership import ownership_conflicts
from modelrollout.core.pod_policy import pod_policy_violations, versions_to_deploy
from modelrollout.core.retention import archived_targets
from modelrollout.core.scope import analysis_scope
from modelrollout.core.shared import validation_view

log = logging.getLogger(__name__)

# Look again at least this often, even when nothing wakes the worker. Every input of a pass is
# watched (the Rollout, its ModelVersions, Deployments and Services), so this only bounds the
# damage of a lost watch event; a short resync would cost CPU at thousands of idle Rollouts.
RESYNC_SECONDS = 120.0
INVALID_RECHECK_SECONDS = 30.0
DEFAULT_SETTINGS = OperatorSettings()


class Analyzer(Protocol):
    """Measures the metrics in scope and folds them into the analysis status and a summary."""

    def __call__(
        self,
        rollout: dict[str, Any],
        spec: RolloutSpec,
        status: RolloutStatus,
        scope: AnalysisScope,
        now: datetime,
    ) -> tuple[AnalysisStatus, AnalysisSummary, float | None]: ...

    def ab_test(
        self, rollout: dict[str, Any], spec: RolloutSpec, status: RolloutStatus, scope: ABScope, now: datetime
    ) -> tuple[ABTestStatus, float]: ...


class PassObserver(Protocol):
    """Told what a pass decided once its status is written (metrics, notifications)."""

    def __call__(
        self,
        namespace: str,
        name: str,
        spec: RolloutSpec | None,
        before: RolloutStatus,
        after: RolloutStatus,
        actions: Sequence[Action],
        now: datetime,
    ) -> None: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


def read_model_versions(kube: KubeGateway, namespace: str) -> dict[str, ModelVersion]:
    """Every ModelVersion of the namespace that parses (admission already validated them)."""
    versions: dict[str, ModelVersion] = {}
    for raw in kube.list_model_versions(namespace):
        try:
            versions[raw["metadata"]["name"]] = ModelVersion.model_validate(raw)
        except ValidationError as error:
            log.warning("ModelVersion %s/%s unreadable: %s", namespace, raw["metadata"]["name"], error)
    return versions


def observe(
    kube: KubeReader,
    namespace: str,
    name: str,
    spec: RolloutSpec | None,
    versions: Mapping[str, ModelVersion],
    route: RouteState | None = None,
) -> Observed:
    listed = kube.list_deployments(namespace, name)
    deployments = {
        d.model_version: DeploymentState(
            version=d.model_version, name=d.name, label=d.label, replicas=d.replicas, ready=d.ready, images=d.images
        )
        for d in listed
    }
    service_names = [naming.active_service(name), naming.preview_service(name), naming.canary_service(name)]
    service_names += naming.variant_services(name)
    services = kube.get_services(namespace, service_names)
    children = [ChildObject("Deployment", d.name, d.controller) for d in listed]
    children += [ChildObject("Service", s.name, s.controller) for s in services.values()]
    # A Deployment under a name this Rollout is about to use, but without its label, is not listed.
    listed_names = {d.name for d in listed}
    for version_name in versions_to_deploy(spec) if spec else []:
        version = versions.get(version_name)
        deployment = naming.deployment_name(name, version.spec.version) if version else None
        if deployment is not None and deployment not in listed_names:
            exists, controller = kube.get_controller("Deployment", namespace, deployment)
            if exists:
                children.append(ChildObject("Deployment", deployment, controller))
    return Observed(
        deployments=deployments,
        services={s.name: ServiceState(name=s.name, selector=s.selector) for s in services.values()},
        model_versions=dict(versions),
        route=route or RouteState(),
        children=tuple(children),
    )


def reconcile_rollout(
    reader: KubeReader,
    kube: KubeWriter,
    namespace: str,
    name: str,
    analyzer: Analyzer | None = None,
    clock: Callable[[], datetime] = utcnow,
    routes: RouteGateway | None = None,
    settings: OperatorSettings = DEFAULT_SETTINGS,
    observers: Sequence[PassObserver] = (),
) -> float | None:
    """One pass; returns seconds until the next wanted pass, or None when the Rollout is gone."""
    raw = reader.get_rollout(namespace, name)
    if raw is None:
        return None
    meta = raw["metadata"]
    generation = int(meta.get("generation", 0))
    raw_status = raw.get("status") or {}
    status = RolloutStatus.model_validate(raw_status)
    now = clock()
    try:
        spec = RolloutSpec.model_validate(raw.get("spec") or {})
    except ValidationError as error:
        message = "; ".join(f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        after = unreadable_spec_status(status, generation, message, now)
        if write_status(kube, raw, raw_status, after):
            for observer in observers:
                observer(namespace, name, None, RolloutStatus.model_validate(raw_status), after, (), now)
        return INVALID_RECHECK_SECONDS

    # This model's versions, and any other the spec names (validation reports its wrong model).
    named = [*versions_to_deploy(spec), *(v for v in (status.stable_version, status.candidate_version) if v)]
    versions = reader.model_versions(namespace, spec.model, named)
    route = routes.observe(raw) if routes is not None else None
    observed = observe(reader, namespace, name, spec, versions, route)
    invalid = tuple(
        validate_rollout(
            spec, validation_view(versions, name, (status.stable_version, status.candidate_version)), namespace
        )
        + connection_problems(spec, settings, namespace)
        + subscription_problems(spec, settings, namespace)
        + pod_policy_violations(spec, versions, settings.pod_policy)
        + ownership_conflicts(observed.children, meta.get("uid"), namespace)
        + compatibility_conflicts(spec, status.stable_version, versions)
        + archived_targets(spec, versions)
    )
    control = parse_control((meta.get("annotations") or {}).get(CONTROL_ANNOTATION))

    summary = NO_ANALYSIS
    next_measurement: float | None = None
    scope = None if invalid else analysis_scope(spec, status, observed)
    if scope is not None and analyzer is not None:
        status.analysis, summary, next_measurement = analyzer(raw, spec, status, scope, now)
    ab = None if invalid else ab_scope(spec, status, observed)
    if ab is not None and analyzer is not None:
        status.ab_test, next_measurement = analyzer.ab_test(raw, spec, status, ab, now)

    inp = RolloutInput(
        name=name,
        namespace=namespace,
        generation=generation,
        spec=spec,
        status=status,
        observed=observed,
        now=now,
        control=control,
        analysis=summary,
        invalid=invalid,
    )
    decision = reconcile(inp)
    refused = refused_children(kube, raw, observed, decision.actions)
    if refused:
        # What only the API server knows is wrong (a port of 70000, a 300 kB annotation...) is an
        # invalid spec too: said once, with nothing created, instead of a write failing for ever.
        invalid = (*invalid, *refused)
        decision = reconcile(replace(inp, invalid=invalid))
    action: Action | None = None
    changed = False
    try:
        for action in in_order(decision.actions):
            if isinstance(action, SetTrafficSplit | SetVariantSplit):
                if routes is not None:
                    routes.apply(raw, action)
                continue
            changed = apply_action(kube, raw, observed, action, now) or changed
    except ApiException as error:
        # Expected (403, 422, a full IP range...): one log line, status and one Warning Event.
        message = f"{describe(action)}: {api_error_message(error)}"
        failed, news, retry = failed_status(status, generation, message, now)
        log.warning("rollout %s/%s: %s; retrying in %.0fs", namespace, name, message, retry)
        if news:
            kube.emit_event(raw, "Warning", reasons.ACTION_FAILED, message)
        write_status(kube, raw, raw_status, failed)
        return retry
    after = applied_status(decision.status, generation, now)
    if write_status(kube, raw, raw_status, after):
        # `status` was updated in place with this pass's analysis; `before` is what was read.
        before = RolloutStatus.model_validate(raw_status)
        for observer in observers:
            observer(namespace, name, spec, before, after, decision.actions, now)
    if invalid:
        return INVALID_RECHECK_SECONDS
    waits = [RESYNC_SECONDS, RESYNC_SECONDS if decision.requeue_after is None else decision.requeue_after]
    if changed:
        # The cache already holds what this pass wrote (and the watch echo of it wakes nobody), so
        # the next step need not wait for a fixed requeue: e.g. a Service switched, then the weight
        # step that waited on it completes in the very next pass.
        waits.append(0.0)
    if next_measurement is not None:
        waits.append(max(next_measurement, 0.2))
    if analyzer is not None and scope != analysis_scope(spec, decision.status, observed):
        # This pass started (or moved) what analysis looks at, e.g. a shadow step's mirror is now
        # in place: the next pass measures at once instead of waiting for the step's own timer.
        waits.append(0.0)
    return min(waits)


def refused_children(
    kube: KubeWriter, rollout: dict[str, Any], observed: Observed, actions: Iterable[Action]
) -> list[str]:
    """Deployments about to be created, tried first as a server-side dry run; the API server's
    reasons for refusing any (bad requests only: other errors are the real write's to report)."""
    problems: list[str] = []
    for action in actions:
        # Only Deployments: their pod template is the user's; Services are built from checked fields.
        if not isinstance(action, EnsureDeployment) or action.version in observed.deployments:
            continue
        model_version = observed.model_versions.get(action.version)
        if model_version is None:
            continue
        manifest = deployment_manifest(rollout, action.version, model_version, action.replicas)
        try:
            kube.apply(manifest, dry_run=True)
        except ApiException as error:
            if error.status in (400, 422):
                child = manifest["metadata"]["name"]
                problems.append(
                    f"ModelVersion {action.version}: the API server refuses Deployment {child}: "
                    f"{api_error_message(error)}"
                )
    return problems


def in_order(actions: Iterable[Action]) -> list[Action]:
    """Writes to children first, then ModelVersion stages, then Events: what an Event or a stage
    says has happened once the actions before it succeeded (a failure stops the pass)."""
    rank = {SetModelVersionStage: 1, EmitEvent: 2}
    return sorted(actions, key=lambda action: rank.get(type(action), 0))


def describe(action: Action | None) -> str:
    if isinstance(action, EnsureDeployment):
        return f"scaling the Deployment of {action.version} to {action.replicas}"
    if isinstance(action, SetServiceSelector):
        return f"pointing Service {action.service} at {action.version_label or 'every version'}"
    if isinstance(action, SetModelVersionStage):
        return f"marking {action.version} {action.stage}"
    if isinstance(action, EmitEvent):
        return f"posting Event {action.reason}"
    return "applying an action"


def apply_action(kube: KubeWriter, rollout: dict[str, Any], observed: Observed, action: Action, now: datetime) -> bool:
    """Applies one action unless the cluster already is that way; whether a child changed."""
    namespace = rollout["metadata"]["namespace"]
    name = rollout["metadata"]["name"]
    if isinstance(action, EnsureDeployment):
        existing = observed.deployments.get(action.version)
        model_version = observed.model_versions.get(action.version)
        if model_version is not None:
            manifest = deployment_manifest(rollout, action.version, model_version, action.replicas)
            # A hand-edited image is drift too: the server-side apply puts the version's back.
            if existing is not None and existing.replicas == action.replicas:
                if existing.images == template_images(manifest):
                    return False
                log.info("Deployment %s/%s: pod template edited by hand; restoring", namespace, existing.name)
            kube.apply(manifest, create=existing is None)
            return True
        if existing is None or existing.replicas == action.replicas:
            return False
        kube.scale_deployment(namespace, existing.name, action.replicas)
        return True
    if isinstance(action, SetServiceSelector):
        current = observed.services.get(action.service)
        manifest = service_manifest(rollout, action.service, action.role, action.version_label)
        if current is not None and dict(current.selector) == manifest["spec"]["selector"]:
            return False
        kube.apply(manifest, create=current is None)
        return True
    if isinstance(action, EmitEvent):
        # Every decision is announced by exactly one Event; the log gets the same line once.
        log.info("rollout %s/%s: %s: %s", namespace, name, action.reason, action.message)
        kube.emit_event(rollout, action.type, action.reason, action.message)
    elif isinstance(action, SetModelVersionCondition):
        model_version = observed.model_versions.get(action.version)
        if model_version is None:
            return False
        held = model_version.status.conditions if model_version.status else []
        value: ConditionStatus = "True" if action.status else "False"
        if any(c.type == action.type and (c.status, c.message) == (value, action.message) for c in held):
            return False
        conditions = set_condition(held, action.type, value, action.reason, action.message, format_time(now), None)
        entries = [c.model_dump(by_alias=True, exclude_none=True, mode="json") for c in conditions]
        kube.patch_model_version_status(namespace, action.version, {"conditions": entries})
    elif isinstance(action, DeleteDeployment):
        existing = observed.deployments.get(action.version)
        if existing is not None:
            kube.delete_deployment(namespace, existing.name)
            return True
    elif isinstance(action, SetModelVersionStage):
        model_version = observed.model_versions.get(action.version)
        if model_version is None:
            return False
        status = with_stage(model_version.status, action.stage, action.reason, name, now)
        if status is not None:
            # Conditions are SetModelVersionCondition's: a merge patch of the whole list read before
            # this pass would undo one written earlier in it.
            stage = status.model_dump(by_alias=True, exclude_none=True, exclude={"conditions"}, mode="json")
            kube.patch_model_version_status(namespace, action.version, stage)
    return False


def write_status(kube: KubeWriter, rollout: dict[str, Any], raw_status: dict[str, Any], status: RolloutStatus) -> bool:
    """Write only real changes; a conflict is left to the next pass."""
    new = status.model_dump(by_alias=True, exclude_none=True, mode="json")
    old = RolloutStatus.model_validate(raw_status).model_dump(by_alias=True, exclude_none=True, mode="json")
    if new == old and raw_status:
        return True
    return kube.replace_rollout_status(rollout, new) is not None
