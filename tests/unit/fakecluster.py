"""A pure test double of the *observed state* the core reconciles against, and a loop to drive it.

Not a mocked Kubernetes API: `FakeCluster` holds Deployments (as pods with a readiness time),
Service selectors and ModelVersions in memory, turns the core's desired-state actions into that
state, and answers `observe()` with the `Observed` the core reads. `Driver` runs the operator loop
(observe -> analysis scope -> reconcile -> apply -> persist status) with a fake clock, and checks
the safety invariants after every pass:

- no Service selects a set of pods with zero ready replicas (a selector of ROLLOUT_LABEL plus
  VERSION_LABEL selects one version, ROLLOUT_LABEL alone selects every version of the rollout);
- no version that a Service selects by its version label, before or after the pass, is scaled to
  zero in that pass;
- a route object (route table, HTTPRoute) that gives the canary Service a weight only does so
  while that Service selects ready pods.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from modelrollout.api.common import version_slug
from modelrollout.api.controls import parse_control
from modelrollout.api.labels import ROLLOUT_LABEL, VERSION_LABEL
from modelrollout.api.modelversion import LifecycleStage, ModelVersion
from modelrollout.api.rollout import RolloutSpec, RolloutStatus
from modelrollout.core import naming
from modelrollout.core.actions import (
    Action,
    DeleteDeployment,
    EmitEvent,
    EnsureDeployment,
    SetModelVersionStage,
    SetServiceSelector,
    SetTrafficSplit,
    SetVariantSplit,
)
from modelrollout.core.analysis_contract import NO_ANALYSIS, AnalysisScope, AnalysisSummary
from modelrollout.core.lifecycle import with_stage
from modelrollout.core.machine import Decision, RolloutInput, reconcile
from modelrollout.core.observed import DeploymentState, Observed, RouteState, ServiceState
from modelrollout.core.scope import analysis_scope

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
ROLLOUT = "chat"
NAMESPACE = "ml"
MODEL = "chat"

NEVER: None = None  # readiness delay of a version whose pods never become ready


def mv_name(semver: str) -> str:
    """ModelVersion name of a semantic version in these tests: 1.2.0 -> chat-1-2-0."""
    return f"{MODEL}-{version_slug(semver).replace('.', '-')}"


def model_version(semver: str) -> ModelVersion:
    return ModelVersion.model_validate(
        {
            "metadata": {"name": mv_name(semver), "namespace": NAMESPACE},
            "spec": {
                "model": MODEL,
                "version": semver,
                "template": {"spec": {"containers": [{"name": "server", "image": f"sim:{semver}"}]}},
            },
        }
    )


def rollout_spec(semver: str, **strategy_and_more: Any) -> RolloutSpec:
    """A RolloutSpec targeting `semver`; keyword arguments are spec fields in their wire (camelCase)
    spelling, e.g. strategy={"canary": {...}}, replicas=4."""
    raw: dict[str, Any] = {"model": MODEL, "targetVersion": mv_name(semver)}
    raw.update(strategy_and_more)
    raw.setdefault("strategy", {"canary": {"steps": [{"setWeight": 50}]}})
    return RolloutSpec.model_validate(raw)


# ------------------------------------------------------------------------------------- cluster


@dataclass
class Pod:
    ready_at: int | None  # pass from which it counts as ready; None: never


@dataclass
class FakeDeployment:
    version: str
    label: str
    pods: list[Pod] = field(default_factory=list)

    @property
    def replicas(self) -> int:
        return len(self.pods)

    def ready(self, at_pass: int) -> int:
        return sum(1 for pod in self.pods if pod.ready_at is not None and pod.ready_at <= at_pass)


class InvariantError(AssertionError):
    """The core asked for something that would drop traffic."""


@dataclass
class FakeCluster:
    """Deployments, Service selectors and ModelVersions of one rollout, in memory.

    `ready_after[version]` is how many passes a new pod of that version takes to become ready
    after the pass that created it: 0 means ready at the next observation, None means never.
    """

    name: str = ROLLOUT
    model_versions: dict[str, ModelVersion] = field(default_factory=dict)
    deployments: dict[str, FakeDeployment] = field(default_factory=dict)
    selectors: dict[str, dict[str, str]] = field(default_factory=dict)
    ready_after: dict[str, int | None] = field(default_factory=dict)
    stages: dict[str, list[tuple[LifecycleStage, str]]] = field(default_factory=dict)
    events: list[EmitEvent] = field(default_factory=list)
    pass_index: int = 0
    # The driver's clock, so that registry entries carry the time of the pass that wrote them.
    now: datetime = T0
    # Ready pods behind each Service after every applied pass (capacity that serves traffic).
    served: list[dict[str, int]] = field(default_factory=list)
    # The router's route object: the last split written (None: none yet), and what blocks it.
    route: SetTrafficSplit | None = None
    # An A/B test's split on the route object, the last one written (None: none yet).
    variant_route: SetVariantSplit | None = None
    route_problem: str | None = None
    # The candidate's weight on the route object after every applied pass.
    route_weights: list[int] = field(default_factory=list)

    def add_versions(self, *semvers: str, ready_after: int | None = 0) -> None:
        for semver in semvers:
            version = model_version(semver)
            name = version.metadata["name"]
            self.model_versions[name] = version
            self.ready_after.setdefault(name, ready_after)

    # ------------------------------------------------------------------ observation

    def observe(self) -> Observed:
        return Observed(
            deployments={
                version: DeploymentState(
                    version=version,
                    name=naming.deployment_name(self.name, d.label),
                    label=d.label,
                    replicas=d.replicas,
                    ready=d.ready(self.pass_index),
                )
                for version, d in self.deployments.items()
            },
            services={
                name: ServiceState(name=name, selector=dict(selector)) for name, selector in self.selectors.items()
            },
            model_versions=dict(self.model_versions),
            route=RouteState(
                weight=self.route.weight if self.route else None,
                mirror=self.route.mirror if self.route else 0,
                problem=self.route_problem,
                backends=self.route_backends(),
            ),
        )

    def route_backends(self) -> dict[str, int] | None:
        """Percentage per Service on the route object: the A/B split if written last, else the canary's."""
        if self.variant_route is not None:
            return {backend.service: backend.weight for backend in self.variant_route.backends}
        if self.route is not None:
            return {
                naming.active_service(self.name): 100 - self.route.weight,
                naming.canary_service(self.name): self.route.weight,
            }
        return None

    def ready(self, version: str) -> int:
        deployment = self.deployments.get(version)
        return deployment.ready(self.pass_index) if deployment else 0

    def replicas(self, version: str) -> int:
        deployment = self.deployments.get(version)
        return deployment.replicas if deployment else 0

    def stage(self, version: str) -> LifecycleStage | None:
        changes = self.stages.get(version)
        return changes[-1][0] if changes else None

    def selected_labels(self, service: str) -> set[str] | None:
        """Version labels a Service selects; None when it does not exist."""
        selector = self.selectors.get(service)
        if selector is None:
            return None
        if selector.get(ROLLOUT_LABEL) != self.name:
            return set()
        if VERSION_LABEL not in selector:
            return {d.label for d in self.deployments.values()}
        return {selector[VERSION_LABEL]}

    def serving(self, service: str) -> int:
        """Ready pods a Service selects now."""
        labels = self.selected_labels(service) or set()
        return sum(d.ready(self.pass_index) for d in self.deployments.values() if d.label in labels)

    def selects(self, service: str) -> str | None:
        """The version name a Service selects by label, "*" for every version, None when missing."""
        selector = self.selectors.get(service)
        if selector is None:
            return None
        if VERSION_LABEL not in selector:
            return "*"
        label = selector[VERSION_LABEL]
        for name, version in self.model_versions.items():
            if version_slug(version.spec.version) == label:
                return name
        return label

    # ------------------------------------------------------------------ changes

    def apply(self, actions: Iterable[Action], check: bool = True) -> None:
        """Apply a pass's actions in order (as the adapters do), then check the invariants."""
        actions = list(actions)
        before = {name: dict(selector) for name, selector in self.selectors.items()}
        running = {version for version, d in self.deployments.items() if d.replicas > 0}
        for action in actions:
            if isinstance(action, EnsureDeployment):
                self._scale(action.version, action.replicas)
            elif isinstance(action, SetServiceSelector):
                selector = {ROLLOUT_LABEL: self.name}
                if action.version_label is not None:
                    selector[VERSION_LABEL] = action.version_label
                self.selectors[action.service] = selector
            elif isinstance(action, SetModelVersionStage):
                changes = self.stages.setdefault(action.version, [])
                if not changes or changes[-1][0] != action.stage:
                    changes.append((action.stage, action.reason))
                # The registry entry the operator observes next pass, as the adapter writes it.
                version = self.model_versions.get(action.version)
                if version is not None:
                    status = with_stage(version.status, action.stage, action.reason, self.name, self.now)
                    if status is not None:
                        self.model_versions[action.version] = version.model_copy(update={"status": status})
            elif isinstance(action, EmitEvent):
                self.events.append(action)
            elif isinstance(action, SetTrafficSplit):
                assert self.route_problem is None, f"route written despite: {self.route_problem}"
                self.route = action
                self.variant_route = None
            elif isinstance(action, SetVariantSplit):
                assert self.route_problem is None, f"route written despite: {self.route_problem}"
                assert sum(b.weight for b in action.backends) == 100, f"shares do not sum to 100: {action}"
                self.variant_route = action
                self.route = None
            elif isinstance(action, DeleteDeployment):
                self.delete_deployment(action.version)
        self.route_weights.append(self.route.weight if self.route else 0)
        self.served.append({service: self.serving(service) for service in self.selectors})
        if check:
            self._check(actions, before, running)

    def tick(self) -> None:
        self.pass_index += 1

    def make_unready(self, version: str) -> None:
        """Every pod of `version` stops being ready (a crash loop)."""
        for pod in self.deployments[version].pods:
            pod.ready_at = None

    def delete_deployment(self, version: str) -> None:
        self.deployments.pop(version, None)

    def _scale(self, version: str, replicas: int) -> None:
        assert replicas >= 0, f"negative replicas for {version}"
        deployment = self.deployments.get(version)
        if deployment is None:
            model_version = self.model_versions.get(version)
            assert model_version is not None, f"EnsureDeployment of unknown version {version}"
            deployment = FakeDeployment(version=version, label=version_slug(model_version.spec.version))
            self.deployments[version] = deployment
        delay = self.ready_after.get(version, 0)
        while deployment.replicas < replicas:
            ready_at = None if delay is None else self.pass_index + 1 + delay
            deployment.pods.append(Pod(ready_at))
        if deployment.replicas > replicas:
            # A ReplicaSet removes pods that are not ready first, then the newest.
            ready = [pod.ready_at is not None and pod.ready_at <= self.pass_index for pod in deployment.pods]
            ranked = sorted(range(deployment.replicas), key=lambda i: (ready[i], -i))
            remove = set(ranked[: deployment.replicas - replicas])
            deployment.pods = [pod for i, pod in enumerate(deployment.pods) if i not in remove]

    def _check(self, actions: list[Action], before: Mapping[str, Mapping[str, str]], running: set[str]) -> None:
        # A version scaled to zero is selected by no Service by label, neither before nor after.
        for action in actions:
            if not isinstance(action, EnsureDeployment) or action.replicas != 0 or action.version not in running:
                continue
            deployment = self.deployments[action.version]
            for when, selectors in (("before", before), ("after", self.selectors)):
                for service, selector in selectors.items():
                    if selector.get(VERSION_LABEL) == deployment.label:
                        raise InvariantError(
                            f"pass {self.pass_index}: {action.version} scaled to 0 while Service "
                            f"{service} selects it ({when} the pass); actions: {actions}"
                        )
        # A weight on the canary Service only while it selects ready pods.
        canary = naming.canary_service(self.name)
        if self.route is not None and max(self.route.weight, self.route.mirror) > 0 and self.serving(canary) < 1:
            raise InvariantError(
                f"pass {self.pass_index}: the route sends {self.route.weight}% (mirrors {self.route.mirror}%) to "
                f"{canary}, which selects no ready pod; actions: {actions}"
            )
        # A share of an A/B split only on a Service that selects ready pods.
        for backend in self.variant_route.backends if self.variant_route else ():
            if backend.weight > 0 and self.serving(backend.service) < 1:
                raise InvariantError(
                    f"pass {self.pass_index}: the route sends {backend.weight}% to {backend.service}, which "
                    f"selects no ready pod; actions: {actions}"
                )
        # Every Service selects at least one ready pod (pods created in this pass are not ready yet).
        for service in self.selectors:
            if self.serving(service) < 1:
                raise InvariantError(
                    f"pass {self.pass_index}: Service {service} selects {self.selectors[service]} "
                    f"with no ready pod; actions: {actions}"
                )


# ------------------------------------------------------------------------------------- driver

AnalysisSource = AnalysisSummary | Callable[[AnalysisScope | None, RolloutStatus], AnalysisSummary]


@dataclass
class Driver:
    """The operator loop against a FakeCluster, with a fake clock advancing `tick` seconds a pass.

    `control` is the value of the control annotation (it stays set, as an annotation does);
    `analysis` is the summary fed to each pass, or a function of the pass's analysis scope.
    """

    spec: RolloutSpec
    cluster: FakeCluster = field(default_factory=FakeCluster)
    status: RolloutStatus = field(default_factory=RolloutStatus)
    generation: int = 1
    now: datetime = T0
    tick: float = 5.0
    control: str | None = None
    analysis: AnalysisSource = NO_ANALYSIS
    invalid: tuple[str, ...] = ()
    check_invariants: bool = True
    check_pure: bool = True
    decisions: list[Decision] = field(default_factory=list)
    scopes: list[AnalysisScope | None] = field(default_factory=list)
    persisted_steps: list[int | None] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.cluster.name

    def input(self, analysis: AnalysisSummary | None = None) -> RolloutInput:
        observed = self.cluster.observe()
        scope = None if self.invalid else analysis_scope(self.spec, self.status, observed)
        if analysis is None:
            analysis = self.analysis(scope, self.status) if callable(self.analysis) else self.analysis
            if scope is None and not callable(self.analysis):
                analysis = NO_ANALYSIS  # nothing in scope: the handler measures nothing
        self.scopes.append(scope)
        return RolloutInput(
            name=self.name,
            namespace=NAMESPACE,
            generation=self.generation,
            spec=self.spec,
            status=self.status,
            observed=observed,
            now=self.now,
            control=parse_control(self.control),
            analysis=analysis,
            invalid=self.invalid,
        )

    def step(self, analysis: AnalysisSummary | None = None, *, persist: bool = True) -> Decision:
        """One pass: observe, decide, apply; `persist=False` loses the new status (a crash)."""
        inp = self.input(analysis)
        status_before = inp.status.model_copy(deep=True)
        decision = reconcile(inp)
        if self.check_pure:
            # the same input gives the same decision, and the input is left as it was
            assert reconcile(inp) == decision, "reconcile is not deterministic"
            assert inp.status == status_before, "reconcile mutated its input status"
        self.cluster.now = self.now
        self.cluster.apply(decision.actions, check=self.check_invariants)
        if persist:
            self.status = decision.status
        self.persisted_steps.append(self.status.current_step)
        self.decisions.append(decision)
        self.cluster.tick()
        self.now += timedelta(seconds=self.tick)
        return decision

    def run(self, passes: int, analysis: AnalysisSummary | None = None) -> Decision:
        decision = self.decisions[-1] if self.decisions else None
        for _ in range(passes):
            decision = self.step(analysis)
        assert decision is not None
        return decision

    def run_until(
        self, done: Callable[[Driver], bool], max_passes: int = 200, analysis: AnalysisSummary | None = None
    ) -> Decision:
        for _ in range(max_passes):
            decision = self.step(analysis)
            if done(self):
                return decision
        raise AssertionError(f"not reached in {max_passes} passes; status: {self.status.model_dump(exclude_none=True)}")

    def settle(self, max_passes: int = 200) -> Decision:
        """Run until a pass asks for nothing new: same status, no Deployment or Service change."""
        for _ in range(max_passes):
            before = self.status.model_copy(deep=True)
            observed = self.cluster.observe()
            decision = self.step()
            if decision.status == before and not changes(decision.actions, observed):
                return decision
        raise AssertionError(f"did not settle in {max_passes} passes; phase {self.status.phase}")

    # ------------------------------------------------------------------ user actions

    def set_target(self, semver: str) -> None:
        """Git edits spec.targetVersion: a new generation."""
        self.edit(targetVersion=mv_name(semver))

    def edit(self, **fields: Any) -> None:
        raw = self.spec.model_dump(by_alias=True, exclude_none=True)
        raw.update(fields)
        self.spec = RolloutSpec.model_validate(raw)
        self.generation += 1

    def send(self, verb: str) -> None:
        """The CLI sets the control annotation to a new <verb>/<token>."""
        self.control = f"{verb}/{len(self.decisions)}-{self.now.timestamp():.0f}"

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    # ------------------------------------------------------------------ queries

    def all_actions(self) -> list[Action]:
        return [action for decision in self.decisions for action in decision.actions]

    def events(self, reason: str | None = None) -> list[EmitEvent]:
        return [e for e in self.cluster.events if reason is None or e.reason == reason]

    def condition(self, type_: str) -> Any:
        return next((c for c in self.status.conditions if c.type == type_), None)

    def service(self, role: str) -> str | None:
        """The version name a Service of `role` selects ("*" for all versions)."""
        name = {
            "active": naming.active_service,
            "preview": naming.preview_service,
            "canary": naming.canary_service,
        }[role](self.name)
        return self.cluster.selects(name)


def changes(actions: Iterable[Action], observed: Observed) -> list[Action]:
    """The Deployment and Service actions that would change something observed."""
    result: list[Action] = []
    for action in actions:
        if isinstance(action, EnsureDeployment):
            if observed.replicas(action.version) != action.replicas or action.version not in observed.deployments:
                result.append(action)
        elif isinstance(action, SetServiceSelector):
            current = observed.services.get(action.service)
            wanted = {ROLLOUT_LABEL: ROLLOUT}
            if action.version_label is not None:
                wanted[VERSION_LABEL] = action.version_label
            if current is None or dict(current.selector) != wanted:
                result.append(action)
    return result


def new_driver(
    spec: RolloutSpec,
    *,
    versions: Iterable[str] = ("1.0.0", "1.1.0", "1.2.0", "2.0.0"),
    ready_after: Mapping[str, int | None] | None = None,
    stable: str | None = "1.0.0",
    **driver_fields: Any,
) -> Driver:
    """A Driver whose cluster knows `versions`; with `stable`, that version is already rolled out
    (Healthy, all Services on it) and `spec` applied on top as the next generation."""
    cluster = FakeCluster()
    cluster.add_versions(*versions)
    for semver, delay in (ready_after or {}).items():
        cluster.ready_after[mv_name(semver)] = delay
    if stable is None:
        return Driver(spec=spec, cluster=cluster, **driver_fields)
    target = spec.target_version
    initial = replace_target(spec, mv_name(stable))
    saved = {name: cluster.ready_after[name] for name in cluster.ready_after}
    cluster.ready_after = dict.fromkeys(saved, 0)
    driver = Driver(spec=initial, cluster=cluster, **driver_fields)
    driver.run_until(lambda d: d.status.phase == "Healthy" and d.cluster.ready(mv_name(stable)) == initial.replicas)
    driver.settle()
    cluster.ready_after = saved
    driver.decisions.clear()
    driver.scopes.clear()
    driver.cluster.events.clear()
    driver.cluster.served.clear()
    if target != initial.target_version:
        driver.spec = spec
        driver.generation += 1
    return driver


def replace_target(spec: RolloutSpec, target: str) -> RolloutSpec:
    return spec.model_copy(update={"target_version": target})


# ------------------------------------------------------------------------------------- specs

ANALYSIS: dict[str, Any] = {
    "interval": "10s",
    "metrics": [
        {"name": "error-rate", "preset": "errorRate"},
        {"name": "latency", "preset": "latencyP95"},
        {"name": "cost", "preset": "costPerRequest"},
        {"name": "quality", "preset": "qualityScore", "background": False},
    ],
}


def canary_spec(
    target: str = "1.1.0", steps: list[dict[str, Any]] | None = None, *, replicas: int = 4, **more: Any
) -> RolloutSpec:
    canary: dict[str, Any] = {"steps": steps or [{"setWeight": 25}, {"setWeight": 50}]}
    if "scaleDownDelaySeconds" in more:
        canary["scaleDownDelaySeconds"] = more.pop("scaleDownDelaySeconds")
    more.setdefault("analysis", ANALYSIS)
    return rollout_spec(target, replicas=replicas, strategy={"canary": canary}, **more)


def blue_green_spec(
    target: str = "1.1.0",
    *,
    replicas: int = 2,
    analysis: Any = ANALYSIS,
    spec: dict[str, Any] | None = None,
    **blue_green: Any,
) -> RolloutSpec:
    """A blue-green RolloutSpec; keyword arguments are blueGreen fields, `spec` other spec fields."""
    more: dict[str, Any] = {"analysis": analysis} if analysis is not None else {}
    more.update(spec or {})
    return rollout_spec(target, replicas=replicas, strategy={"blueGreen": blue_green}, **more)


def steps_pass(scope: AnalysisScope | None, status: RolloutStatus) -> AnalysisSummary:
    """Analysis that passes every step as soon as it is asked."""
    return AnalysisSummary(step_passed=bool(scope and scope.step_metrics))


def steps_wait(scope: AnalysisScope | None, status: RolloutStatus) -> AnalysisSummary:
    """Analysis that is still measuring: nothing passed, nothing failed."""
    return NO_ANALYSIS
