"""What the operator observed in the cluster, reduced to what decisions need."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from modelrollout.api.modelversion import ModelVersion


@dataclass(frozen=True)
class Controller:
    """The controlling owner reference of an object (metadata.ownerReferences[controller=true])."""

    kind: str
    name: str
    uid: str


@dataclass(frozen=True)
class ChildObject:
    """An existing object under a name this Rollout writes to, with who controls it."""

    kind: str
    name: str
    controller: Controller | None


@dataclass(frozen=True)
class DeploymentState:
    """One version's Deployment as last observed."""

    version: str  # ModelVersion name (from the Deployment's annotation)
    name: str
    label: str  # the modelrollout.io/version label value of its pods
    replicas: int  # spec.replicas
    ready: int  # status.readyReplicas of the current generation's pods
    images: tuple[tuple[str, str], ...] = ()  # (container, image) of its pod template, to see drift


@dataclass(frozen=True)
class ServiceState:
    """A Service the operator owns: its selector."""

    name: str
    selector: Mapping[str, str]


@dataclass(frozen=True)
class RouteState:
    """The traffic router's own route object (route table ConfigMap, HTTPRoute) as last observed."""

    # The candidate's weight on it; None when the object does not exist yet.
    weight: int | None = None
    # The share of requests it mirrors to the canary Service.
    mirror: int = 0
    # Why the router cannot use the object (missing, not ours, not wired to our Services).
    problem: str | None = None
    # Percentage of requests per Service of this Rollout on it; None when the object does not exist.
    backends: Mapping[str, int] | None = None


@dataclass(frozen=True)
class Observed:
    """Everything a reconcile pass looks at besides the Rollout itself."""

    deployments: Mapping[str, DeploymentState] = field(default_factory=dict)  # by ModelVersion name
    services: Mapping[str, ServiceState] = field(default_factory=dict)  # by Service name
    model_versions: Mapping[str, ModelVersion] = field(default_factory=dict)  # by name
    route: RouteState = field(default_factory=RouteState)
    # Every existing object under a name the Rollout writes (Deployments, Services, ...), so that the
    # core refuses to adopt one it did not create.
    children: tuple[ChildObject, ...] = ()

    def ready(self, version: str | None) -> int:
        state = self.deployments.get(version) if version else None
        return state.ready if state else 0

    def replicas(self, version: str | None) -> int:
        state = self.deployments.get(version) if version else None
        return state.replicas if state else 0
