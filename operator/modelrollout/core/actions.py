"""Desired-state actions the core asks the adapters to apply. Each is idempotent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from modelrollout.api.modelversion import LifecycleStage

ServiceRole = Literal["active", "preview", "canary", "variant"]


@dataclass(frozen=True)
class EnsureDeployment:
    """The Deployment of `version` exists with `replicas` replicas."""

    version: str  # ModelVersion name
    replicas: int


@dataclass(frozen=True)
class SetServiceSelector:
    """Service `service` selects the pods of `version_label`, or every version of the rollout if None."""

    service: str
    role: ServiceRole
    version_label: str | None


@dataclass(frozen=True)
class EmitEvent:
    """A Kubernetes Event on the Rollout."""

    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@dataclass(frozen=True)
class SetModelVersionStage:
    """Record a lifecycle transition in the ModelVersion's status."""

    version: str
    stage: LifecycleStage
    reason: str


@dataclass(frozen=True)
class SetTrafficSplit:
    """The traffic router's route object sends `weight` percent of requests to the canary Service
    (which selects `candidate`) and the rest to the stable Service (which selects `stable`)."""

    stable: str  # ModelVersion names and their version label values
    stable_label: str
    candidate: str | None
    candidate_label: str | None
    weight: int
    # Percentage of requests also mirrored to the canary Service (answers discarded).
    mirror: int = 0


@dataclass(frozen=True)
class RouteBackend:
    """One version's entry on the route object of an A/B test."""

    version: str  # ModelVersion name and its version label value
    label: str
    service: str  # the Service that selects it
    weight: int  # percentage of requests it gets now
    share: int  # its weight in the test's design (the route table's bucket range)


@dataclass(frozen=True)
class SetVariantSplit:
    """The traffic router's route object shares requests between `backends` (the control last) and
    nothing else of this Rollout's: one backend alone is all traffic on it."""

    backends: tuple[RouteBackend, ...]


@dataclass(frozen=True)
class DeleteDeployment:
    """The Deployment of `version` is gone (an archived version: nothing left to scale up)."""

    version: str  # ModelVersion name


@dataclass(frozen=True)
class SetModelVersionCondition:
    """A condition on the ModelVersion's status (e.g. the outcome of pre-upgrade validation)."""

    version: str
    type: str
    status: bool
    reason: str
    message: str


Action = (
    EnsureDeployment
    | SetServiceSelector
    | EmitEvent
    | SetModelVersionStage
    | SetTrafficSplit
    | SetVariantSplit
    | DeleteDeployment
    | SetModelVersionCondition
)
