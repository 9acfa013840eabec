"""ModelVersion: one immutable version of a model. Its status is the model registry entry."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from modelrollout.api.cel import JsonDict, list_map, rule, validations
from modelrollout.api.common import (
    Condition,
    DnsLabel,
    SemVer,
    SpecModel,
    StatusModel,
)
from modelrollout.api.registry import ApiVersion

KIND = "ModelVersion"
PLURAL = "modelversions"

# Stages a user may set on the spec; the operator moves status.stage through the rest.
UserStage = Literal["development", "staging"]
LifecycleStage = Literal["development", "staging", "candidate", "production", "deprecated", "archived", "rejected"]


class GenerationParameters(SpecModel):
    """Sampling parameters the model is served with."""

    temperature: float | None = Field(default=None, ge=0, le=2, description="Sampling temperature, 0 to 2.")
    max_tokens: int | None = Field(default=None, ge=1, description="Upper bound on generated tokens.")
    top_p: float | None = Field(default=None, ge=0, le=1, description="Nucleus sampling mass, 0 to 1.")


class Artifact(SpecModel):
    """What this version is made of."""

    uri: str | None = Field(
        default=None, max_length=2048, description="Where the weights live, e.g. s3://models/x/2.4.0."
    )
    base_model: str | None = Field(default=None, max_length=253, description="Base model this version builds on.")
    adapter: str | None = Field(default=None, max_length=253, description="Fine-tuning adapter (e.g. a LoRA), if any.")
    prompt_template: str | None = Field(default=None, max_length=253, description="Name or URI of the prompt template.")
    parameters: GenerationParameters | None = Field(default=None, description="Generation parameters.")


class Compatibility(SpecModel):
    """What clients and data this version needs."""

    min_api_version: ApiVersion | None = Field(
        default=None,
        description=(
            "Oldest client API version this version serves (v3, v3.1). A Rollout refuses it as a target "
            "when it is above the Rollout's spec.compatibility.clientApiVersion (default: the stable's)."
        ),
    )
    required_embeddings: str | None = Field(
        default=None,
        max_length=253,
        description=(
            "Embedding model or index it requires. A target requiring other embeddings than the stable "
            "version needs spec.compatibility.allowEmbeddingsChange on the Rollout."
        ),
    )
    breaking_changes: list[str] = Field(
        default_factory=list,
        max_length=64,
        description=(
            "Breaking changes versus the parent version, in words. Any listed change needs "
            "spec.compatibility.allowBreakingChanges on the Rollout that ships it."
        ),
    )


class ContainerSketch(SpecModel):
    """A container of the serving pod; every core/v1 Container field is accepted."""

    model_config = ConfigDict(extra="allow")

    name: DnsLabel = Field(description="Container name.")
    image: str = Field(min_length=1, description="Container image serving this version.")


class PodSpecSketch(SpecModel):
    """The serving pod's spec; every core/v1 PodSpec field is accepted."""

    model_config = ConfigDict(extra="allow")

    containers: list[ContainerSketch] = Field(
        min_length=1,
        max_length=32,
        description="Containers (at least one), unique by name.",
        json_schema_extra=list_map("name"),
    )


class PodTemplateMetadata(SpecModel):
    """Labels and annotations added to the serving pods."""

    labels: dict[str, str] = Field(default_factory=dict, description="Extra pod labels.")
    annotations: dict[str, str] = Field(default_factory=dict, description="Extra pod annotations.")


class PodTemplate(SpecModel):
    """The PodTemplateSpec serving this version (the operator adds its own labels and env)."""

    metadata: PodTemplateMetadata | None = Field(default=None, description="Pod labels and annotations.")
    spec: PodSpecSketch = Field(description="A core/v1 PodSpec.")


def _unchanged(field: str, what_to_do: str, *, optional: bool = True) -> JsonDict:
    """A transition rule keeping spec.<field> as it was created (set, unset or changed alike)."""
    expression = f"self.{field} == oldSelf.{field}"
    if optional:
        # A rule on the field itself would not run when the field is added or removed.
        expression = f"has(self.{field}) == has(oldSelf.{field}) && (!has(self.{field}) || {expression})"
    return rule(expression, f"spec.{field} is immutable: {what_to_do}", field_path=f".{field}")


_NEW_VERSION = "create a new ModelVersion for a new version"

_SPEC_RULES = validations(
    rule(
        "!has(self.parentVersion) || self.parentVersion != self.version",
        "spec.parentVersion must differ from spec.version: it names the version this one was derived from",
        field_path=".parentVersion",
    ),
    _unchanged("model", "create a new ModelVersion for another model", optional=False),
    _unchanged("version", _NEW_VERSION, optional=False),
    _unchanged("parentVersion", _NEW_VERSION),
    _unchanged("description", _NEW_VERSION),
    _unchanged("artifact", _NEW_VERSION),
    _unchanged("compatibility", _NEW_VERSION),
    _unchanged("template", "create a new ModelVersion to serve another image or pod spec", optional=False),
)


class ModelVersionSpec(SpecModel):
    """One version of a model. Immutable after creation except `stage`: a new version is a new object."""

    model_config = ConfigDict(json_schema_extra=_SPEC_RULES)

    model: DnsLabel = Field(description="Model family this version belongs to; a Rollout manages one family.")
    version: SemVer = Field(description="Semantic version, MAJOR.MINOR.PATCH[-prerelease][+build].")
    parent_version: SemVer | None = Field(default=None, description="The version this one was derived from (lineage).")
    stage: UserStage = Field(
        default="staging",
        description="development (may not be rolled out) or staging (ready to roll out).",
    )
    description: str | None = Field(default=None, max_length=1024, description="What changed in this version.")
    artifact: Artifact | None = Field(default=None, description="What this version is made of.")
    compatibility: Compatibility | None = Field(default=None, description="Compatibility metadata.")
    template: PodTemplate = Field(description="Pod template serving this version.")


class Performance(StatusModel):
    """What the version showed while it served (stable, candidate, variant), over a window.

    The operator refreshes it from Prometheus on an interval; the figures of a version that stopped
    serving stay as last seen, with `observedAt` saying when.
    """

    requests: float | None = Field(
        default=None,
        description="Requests served in the window: the sample size of errorRate and the per-request figures.",
    )
    error_rate: float | None = Field(default=None, description="Fraction of requests that failed.")
    latency_p50_ms: float | None = Field(default=None, description="Median latency in milliseconds.")
    latency_p95_ms: float | None = Field(default=None, description="95th percentile latency in milliseconds.")
    quality_score: float | None = Field(default=None, description="Mean quality score, 0 to 1.")
    quality_samples: float | None = Field(
        default=None, description="Quality scores recorded in the window: the sample size of qualityScore."
    )
    cost_per_request: float | None = Field(default=None, description="Mean cost per request in USD.")
    tokens_per_request: float | None = Field(default=None, description="Mean tokens per request.")
    window: str | None = Field(default=None, description="Window the figures cover, e.g. 1h.")
    observed_at: str | None = Field(default=None, description="When the figures were read (RFC 3339).")


class StageChange(StatusModel):
    """One lifecycle transition."""

    stage: LifecycleStage = Field(description="Stage entered.")
    at: str = Field(description="When (RFC 3339).")
    reason: str = Field(default="", description="Why.")
    rollout: str | None = Field(default=None, description="The Rollout that caused it.")


class ModelVersionStatus(StatusModel):
    """The registry entry: lifecycle stage, who uses it, how it performed."""

    stage: LifecycleStage | None = Field(default=None, description="Lifecycle stage.")
    rollout: str | None = Field(default=None, description="Rollout that serves or last served this version.")
    reason: str | None = Field(default=None, description="Why the version is in its stage (e.g. why rejected).")
    performance: Performance | None = Field(default=None, description="Performance seen in production.")
    history: list[StageChange] = Field(
        default_factory=list, description="Lifecycle transitions, newest last (bounded)."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Conditions in Kubernetes API conventions, one per type.",
        json_schema_extra=list_map("type"),
    )
    observed_generation: int | None = Field(default=None, description="Last generation processed.")


class ModelVersion(SpecModel):
    """ModelVersion is one immutable version of a model: what it is made of and the pod template
    serving it. Its status is the model registry entry: lifecycle stage, lineage and performance."""

    model_config = ConfigDict(extra="ignore")

    api_version: Literal["modelrollout.io/v1alpha1"] = "modelrollout.io/v1alpha1"
    kind: Literal["ModelVersion"] = "ModelVersion"
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: ModelVersionSpec
    status: ModelVersionStatus | None = None
