"""Rollout: how traffic moves from the stable version of a model to a target version."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from modelrollout.api.cel import JsonDict, JsonValue, at_least, list_map, list_set, one_of, rule, validations
from modelrollout.api.common import (
    Condition,
    DnsLabel,
    Duration,
    ObjectName,
    Percent,
    SpecModel,
    StatusModel,
)

KIND = "Rollout"
PLURAL = "rollouts"

Severity = Literal["critical", "warning"]
OnNoData = Literal["pause", "rollback", "ignore"]
Verdict = Literal["pass", "fail", "inconclusive"]
Phase = Literal["Initializing", "Progressing", "Paused", "Promoting", "Healthy", "Degraded", "RolledBack"]
Outcome = Literal["Promoted", "RolledBack", "Aborted", "Superseded", "Cancelled"]


# ---------------------------------------------------------------- analysis


class PrometheusSpec(SpecModel):
    """Which of the operator's Prometheus connections this Rollout reads.

    Addresses and credentials are not part of a Rollout: whoever may edit a Rollout must not be
    able to point the operator's credentials (or the operator's network position) at an address
    of their choosing. The operator's installer defines named connections (chart values
    `prometheus.connections`); a Rollout picks one by name.
    """

    connection: DnsLabel | None = Field(
        default=None,
        description=(
            "Name of a Prometheus connection defined by the operator's installer (Helm values "
            "`prometheus.connections`); empty uses the operator's default connection."
        ),
    )
    timeout: Duration | None = Field(
        default=None,
        description="Per-query timeout; empty uses the connection's timeout (5s unless set).",
        json_schema_extra=at_least("100ms", "timeout"),
    )


THRESHOLDS = ("max", "min", "maxRatioToBaseline", "minRatioToBaseline")
_THRESHOLD_COUNT = " + ".join(f"(has(self.{name}) ? 1 : 0)" for name in THRESHOLDS)


def _metric_schema(schema: JsonDict) -> None:
    """CEL rules of a metric; the template variables come from presets.py (which imports this module)."""
    from modelrollout.api.presets import TEMPLATE_VARIABLES

    names = sorted(TEMPLATE_VARIABLES)
    listed = ", ".join(f"{{{{{name}}}}}" for name in names)
    # One linear regex pass (a findAll list would blow the CEL cost budget): any text in which
    # "{{" only ever opens a known variable, spaces inside the braces allowed as the renderer does.
    # [{] and [[:space:]] because CEL string literals have no \\{ or \\s escape.
    space = "[[:space:]]*"
    known = f"[{{][{{]{space}({'|'.join(names)}){space}[}}][}}]"
    template = f"^([^{{]|[{{][^{{]|{known})*[{{]?$"
    schema.update(
        validations(
            rule(
                "!(has(self.query) && has(self.preset))",
                "set either preset or query, not both: a preset brings its own query"
                " (to change the query, remove preset and give the query a threshold)",
            ),
            rule(
                "has(self.query) || has(self.preset)",
                "set preset (a built-in metric) or query (a PromQL template with one threshold)",
            ),
            rule(
                f"{_THRESHOLD_COUNT} <= 1",
                "set at most one threshold: max, min, maxRatioToBaseline or minRatioToBaseline",
            ),
            rule(
                # Only the missing-threshold case: too many thresholds and preset+query have their own rules.
                f"!has(self.query) || has(self.preset) || {_THRESHOLD_COUNT} >= 1",
                "a metric with a query needs a threshold: max, min, maxRatioToBaseline or minRatioToBaseline",
            ),
            rule(
                f"!has(self.query) || self.query.matches('{template}')",
                f"query uses an unknown template variable: the variables are {listed}",
                field_path=".query",
            ),
        )
    )


def _preset_schema(schema: JsonDict) -> None:
    """The known presets as an enum, so a typo is rejected at admission with the list of names."""
    from modelrollout.api.presets import PRESETS

    names: list[JsonValue] = [name for name in sorted(PRESETS)]
    schema["enum"] = names


class MetricSpec(SpecModel):
    """A Prometheus metric that judges a version: a preset (built-in query, threshold and severity,
    optionally with one overriding threshold), or a PromQL query template with exactly one threshold."""

    model_config = ConfigDict(json_schema_extra=_metric_schema)

    name: DnsLabel = Field(description="Name that canary analysis steps and blue-green analysis refer to.")
    preset: str | None = Field(
        default=None,
        max_length=63,
        description=(
            "Built-in metric (errorRate, latencyP95, qualityScore, hallucinationRate, costPerRequest, "
            "tokensPerRequest) carrying its query, threshold and severity. A threshold, severity or "
            "failureLimit set here overrides the preset's; a query may not be combined with a preset."
        ),
        json_schema_extra=_preset_schema,
    )
    query: str | None = Field(
        default=None,
        min_length=1,
        max_length=4096,
        description=(
            "PromQL template returning one number. Variables: {{rollout}}, {{namespace}}, {{model}}, "
            "{{version}} (label value of the version under test), {{stableVersion}} and {{window}}."
        ),
    )
    max: float | None = Field(default=None, description="Fail when the value is above this.")
    min: float | None = Field(default=None, description="Fail when the value is below this.")
    max_ratio_to_baseline: float | None = Field(
        default=None,
        gt=0,
        description="Fail when value / baseline (same query on the stable version) is above this.",
    )
    min_ratio_to_baseline: float | None = Field(
        default=None, gt=0, description="Fail when value / baseline is below this."
    )
    severity: Severity | None = Field(
        default=None,
        description="critical rolls back; warning records an Event and a condition. Default critical.",
    )
    failure_limit: int | None = Field(
        default=None,
        ge=0,
        description="Failed measurements tolerated; the verdict fails when failures exceed it.",
    )
    interval: Duration | None = Field(
        default=None,
        description="How often to measure; default analysis.interval.",
        json_schema_extra=at_least("1s", "interval"),
    )
    count: int | None = Field(
        default=None, ge=1, description="Measurements an analysis step takes before it passes; default 1."
    )
    initial_delay: Duration | None = Field(
        default=None,
        description="Wait this long after the version starts receiving traffic before measuring.",
    )
    background: bool = Field(default=True, description="Also measure continuously while a rollout is in progress.")


class AnalysisSpec(SpecModel):
    """Metrics that decide whether a rollout advances, and how missing data is treated."""

    interval: Duration = Field(
        default="30s", description="Default time between measurements.", json_schema_extra=at_least("1s", "interval")
    )
    window: Duration = Field(
        default="1m",
        description="Range the presets' rate() queries cover; the {{window}} template variable.",
        json_schema_extra=at_least("1s", "window"),
    )
    prometheus: PrometheusSpec | None = Field(
        default=None, description="Which Prometheus connection of the operator to read (by name)."
    )
    on_no_data: OnNoData = Field(
        default="pause",
        description="What an inconclusive measurement (no data, NaN, Prometheus down) does: pause, rollback or ignore.",
    )
    metrics: list[MetricSpec] = Field(
        default_factory=list,
        max_length=32,
        description="Metric definitions, unique by name.",
        json_schema_extra=list_map("name"),
    )


# ---------------------------------------------------------------- strategies


class PauseStep(SpecModel):
    """Hold the current weight for a duration, or until promoted when no duration is given."""

    duration: Duration | None = Field(default=None, description="How long to hold; empty means until promoted.")


class AnalysisStep(SpecModel):
    """Measure the named metrics and continue only when they pass."""

    metrics: list[DnsLabel] = Field(
        min_length=1,
        max_length=32,
        description="Names of metrics defined in spec.analysis.metrics.",
        json_schema_extra=list_set(),
    )


class CanaryStep(SpecModel):
    """One canary step: exactly one of setWeight, pause or analysis."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            one_of(
                ("setWeight", "pause", "analysis"),
                "exactly one",
                "set exactly one of setWeight, pause or analysis in each step (split a combined step in two)",
            )
        )
    )

    set_weight: Percent | None = Field(default=None, description="Percentage of traffic for the candidate, 0 to 100.")
    pause: PauseStep | None = Field(default=None, description="Pause for a duration or until promoted.")
    analysis: AnalysisStep | None = Field(default=None, description="Run analysis and wait for its verdict.")


class ReplicasRouting(SpecModel):
    """Weight by replica counts behind the stable Service; needs no mesh or gateway."""


class GatewayAPIRouting(SpecModel):
    """Weight on the backendRefs of a Gateway API HTTPRoute."""

    http_route: ObjectName = Field(description="HTTPRoute whose rules the operator weights.")


class UserHashRouting(SpecModel):
    """User-consistent assignment from a published route table."""

    header: str = Field(default="x-user-id", max_length=253, description="Request header carrying the user id.")


class TrafficRouting(SpecModel):
    """How a weight reaches requests; at most one router, replicas when none is set."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            one_of(
                ("replicas", "gatewayAPI", "userHash"),
                "at most one",
                "set at most one traffic router: replicas, gatewayAPI or userHash",
            )
        )
    )

    replicas: ReplicasRouting | None = Field(default=None, description="Replica-count weighting (default).")
    # The generated alias would be "gatewayApi"; the API spells the acronym as Kubernetes does.
    gateway_api: GatewayAPIRouting | None = Field(
        default=None, alias="gatewayAPI", description="Gateway API HTTPRoute weights."
    )
    user_hash: UserHashRouting | None = Field(default=None, description="User-consistent hashing via route table.")


class CanaryStrategy(SpecModel):
    """Move traffic to the candidate in ordered steps."""

    traffic_routing: TrafficRouting | None = Field(default=None, description="Traffic router; default replicas.")
    steps: list[CanaryStep] = Field(
        min_length=1, max_length=64, description="Ordered steps; the candidate is promoted after the last."
    )
    scale_down_delay_seconds: int = Field(
        default=30,
        ge=0,
        description="Seconds the old stable keeps running after promotion (endpoint propagation).",
    )


class BlueGreenStrategy(SpecModel):
    """Run the target beside the stable version, preview it, then switch all traffic at once."""

    auto_promotion_enabled: bool = Field(default=True, description="Promote without a manual promote.")
    auto_promotion_seconds: int = Field(
        default=0,
        ge=0,
        description="Seconds the preview must be ready (and pre-promotion analysis passed) before auto-promotion.",
    )
    pre_promotion_analysis: list[DnsLabel] = Field(
        default_factory=list,
        max_length=32,
        description="Metrics (from spec.analysis.metrics) measured on the preview before promotion.",
        json_schema_extra=list_set(),
    )
    post_promotion_analysis: list[DnsLabel] = Field(
        default_factory=list,
        max_length=32,
        description="Metrics (from spec.analysis.metrics) measured after the switch; a failure switches back.",
        json_schema_extra=list_set(),
    )
    scale_down_delay_seconds: int = Field(
        default=30,
        ge=0,
        description="Seconds the old version keeps running after the switch (endpoint propagation).",
    )


class ABVariant(SpecModel):
    """One arm of an A/B test."""

    version: ObjectName = Field(description="ModelVersion name.")
    weight: Percent = Field(description="Share of traffic, 0 to 100; all variants sum to 100.")


class ABTestStrategy(SpecModel):
    """Split traffic between versions and pick a winner with a sequential statistical test."""

    variants: list[ABVariant] = Field(
        min_length=2,
        max_length=8,
        description="Versions under test and their weights (weights sum to 100, versions differ).",
        json_schema_extra=validations(
            rule(
                "self.map(v, v.weight).sum() == 100",
                "variant weights must sum to 100",
            ),
            rule(
                "self.all(v, self.exists_one(w, w.version == v.version))",
                "each variant needs a different version (ModelVersion name)",
            ),
        ),
    )
    metrics: list[DnsLabel] = Field(
        default_factory=list,
        max_length=16,
        description="Metrics (from spec.analysis.metrics) compared between variants.",
        json_schema_extra=list_set(),
    )
    alpha: float = Field(
        default=0.05, gt=0, lt=1, description="False-positive rate bound, however often results are checked."
    )
    power: float = Field(default=0.8, gt=0, lt=1, description="Desired power for the minimum detectable effect.")
    min_samples_per_variant: int = Field(
        default=500, ge=1, description="Samples each variant needs before any decision."
    )
    max_duration: Duration = Field(default="24h", description="After this the answer is 'no significant difference'.")
    promote_winner: bool = Field(default=False, description="Promote the winner automatically.")


class Strategy(SpecModel):
    """Exactly one of blueGreen, canary or abTest."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            one_of(
                ("blueGreen", "canary", "abTest"),
                "exactly one",
                "set exactly one strategy: blueGreen, canary or abTest",
            )
        )
    )

    blue_green: BlueGreenStrategy | None = Field(default=None, description="Blue-green deployment.")
    canary: CanaryStrategy | None = Field(default=None, description="Canary steps.")
    ab_test: ABTestStrategy | None = Field(default=None, description="A/B test between versions.")


# ---------------------------------------------------------------- rollout spec


class ServiceSpec(SpecModel):
    """Ports of the Services the operator owns."""

    port: int = Field(default=80, ge=1, le=65535, description="Service port.")
    target_port: int = Field(default=8080, ge=1, le=65535, description="Container port serving requests.")


def _defined(name: str) -> str:
    """CEL: `name` is a metric defined in spec.analysis.metrics (evaluated on the RolloutSpec)."""
    defined = f"self.analysis.metrics.exists(d, d.name == {name})"
    return f"(has(self.analysis) && has(self.analysis.metrics) && {defined})"


def _references(strategy: str, field: str) -> JsonDict:
    """A rule that every metric name in spec.strategy.<strategy>.<field> is defined."""
    path = f"self.strategy.{strategy}.{field}"
    return rule(
        f"!has(self.strategy.{strategy}) || !has({path}) || {path}.all(m, {_defined('m')})",
        f"spec.strategy.{strategy}.{field} names a metric that is not defined in spec.analysis.metrics:"
        " define it there or remove it here",
        field_path=f".strategy.{strategy}.{field}",
    )


_ROLLOUT_SPEC_RULES = validations(
    rule(
        "self.model == oldSelf.model",
        "spec.model is immutable: create a new Rollout for another model",
        field_path=".model",
    ),
    rule(
        "!has(self.strategy.canary) || self.strategy.canary.steps.all(s, !has(s.analysis)"
        f" || s.analysis.metrics.all(m, {_defined('m')}))",
        "an analysis step in spec.strategy.canary.steps names a metric that is not defined in"
        " spec.analysis.metrics: define it there or remove it from the step",
        field_path=".strategy.canary.steps",
    ),
    _references("blueGreen", "prePromotionAnalysis"),
    _references("blueGreen", "postPromotionAnalysis"),
    _references("abTest", "metrics"),
)


class RolloutSpec(SpecModel):
    """What version of a model should serve, and how to get there safely."""

    model_config = ConfigDict(json_schema_extra=_ROLLOUT_SPEC_RULES)

    model: DnsLabel = Field(description="Model family; every ModelVersion used must belong to it.")
    target_version: ObjectName = Field(
        description="Name of the ModelVersion that should serve. Git edits this line to ship."
    )
    replicas: int = Field(default=1, ge=1, le=1000, description="Pods serving the model.")
    service: ServiceSpec = Field(default_factory=ServiceSpec, description="Service ports.")
    strategy: Strategy = Field(description="How traffic moves to the target.")
    analysis: AnalysisSpec | None = Field(default=None, description="Metrics and Prometheus connection.")
    progress_deadline_seconds: int = Field(
        default=600,
        ge=1,
        description="A candidate not ready (or a step not done) within this aborts the rollout.",
    )
    paused: bool = Field(default=False, description="Hold the rollout where it is.")
    revision_history_limit: int = Field(default=10, ge=0, le=100, description="History entries kept in status.")


# ---------------------------------------------------------------- rollout status


class Measurement(StatusModel):
    """One metric measurement and its verdict."""

    metric: str = Field(description="Metric name.")
    version: str = Field(description="ModelVersion measured.")
    value: float | None = Field(default=None, description="Measured value; empty when there was no data.")
    baseline: float | None = Field(default=None, description="Same query on the stable version, when compared to it.")
    verdict: Verdict = Field(description="pass, fail or inconclusive.")
    message: str = Field(default="", description="Why.")
    at: str = Field(description="When (RFC 3339).")


class MetricTally(StatusModel):
    """Counts for one metric since the current analysis began."""

    metric: str = Field(description="Metric name.")
    measurements: int = Field(default=0, description="Measurements taken.")
    failures: int = Field(default=0, description="Failed measurements.")
    inconclusive: int = Field(default=0, description="Inconclusive measurements.")
    last_at: str | None = Field(default=None, description="When last measured (RFC 3339).")
    last_verdict: Verdict | None = Field(default=None, description="Verdict of the last measurement.")
    step_since: str | None = Field(
        default=None, description="Start of the analysis step the step counters refer to (RFC 3339)."
    )
    step_passes: int = Field(default=0, description="Passed measurements since the current step began.")
    step_failures: int = Field(default=0, description="Failed measurements since the current step began.")


class AnalysisStatus(StatusModel):
    """The live state of analysis for the current candidate."""

    version: str | None = Field(
        default=None, description="ModelVersion these tallies are about; another version starts from zero."
    )
    last_run: str | None = Field(default=None, description="When analysis last ran.")
    phase: Verdict | Literal["running"] | None = Field(
        default=None, description="Verdict of the current analysis step."
    )
    tallies: list[MetricTally] = Field(default_factory=list, description="Per-metric counts.")
    measurements: list[Measurement] = Field(default_factory=list, description="Latest measurements (bounded).")


class ABVariantResult(StatusModel):
    """A variant's estimate."""

    version: str
    samples: float | None = None
    mean: float | None = None
    ci: list[float] = Field(default_factory=list)


class ABTestStatus(StatusModel):
    """The A/B test's current answer."""

    variants: list[ABVariantResult] = Field(default_factory=list)
    effect: float | None = None
    p_value: float | None = None
    decision: Literal["upgrade", "keep", "inconclusive"] | None = None
    confidence: float | None = None


class HistoryEntry(StatusModel):
    """How one candidate's rollout ended."""

    version: str = Field(description="ModelVersion.")
    outcome: Outcome = Field(description="Promoted, RolledBack, Aborted, Superseded or Cancelled.")
    reason: str = Field(default="", description="Why.")
    at: str = Field(description="When (RFC 3339).")


class PendingScaleDown(StatusModel):
    """A version kept running after a switch, to be scaled to zero at a time."""

    version: str = Field(description="ModelVersion name.")
    at: str = Field(description="When to scale it down (RFC 3339).")


class RejectedTarget(StatusModel):
    """A target that was rolled back or aborted; not retried until the spec changes or a retry."""

    version: str = Field(description="ModelVersion name.")
    generation: int = Field(description="Rollout generation it was rejected at.")
    reason: str = Field(default="", description="Why.")


class BlueGreenStatus(StatusModel):
    """Where a blue-green rollout stands."""

    preview_ready_at: str | None = Field(
        default=None, description="When the preview Service first selected the ready candidate."
    )
    promotion_approved: bool = Field(default=False, description="A user promoted; switch as soon as it is safe.")
    promoted_at: str | None = Field(default=None, description="When the active Service switched to the candidate.")


class RolloutStatus(StatusModel):
    """Live state and history of the move from stable to target."""

    phase: Phase | None = Field(
        default=None,
        description="Initializing, Progressing, Paused, Promoting, Healthy, Degraded or RolledBack.",
    )
    message: str | None = Field(default=None, description="What is happening now, for humans.")
    observed_generation: int | None = Field(default=None, description="Last metadata.generation acted on.")
    stable_version: str | None = Field(
        default=None, description="ModelVersion serving all traffic when no rollout is in progress."
    )
    candidate_version: str | None = Field(default=None, description="ModelVersion being rolled out.")
    current_step: int | None = Field(default=None, description="Index of the current canary step.")
    canary_weight: int | None = Field(default=None, description="Percentage of traffic on the candidate now.")
    started_at: str | None = Field(default=None, description="When the current candidate's rollout began.")
    step_started_at: str | None = Field(default=None, description="When the current step (or blue-green phase) began.")
    progress_at: str | None = Field(default=None, description="Last time the rollout made progress (for the deadline).")
    blue_green: BlueGreenStatus | None = Field(
        default=None, description="Blue-green progress of the current candidate."
    )
    paused_by_user: bool = Field(default=False, description="A user paused the rollout with the pause control.")
    pause_reason: str | None = Field(default=None, description="Why the rollout is paused.")
    promote_full: bool = Field(
        default=False, description="A promote --full is in progress: skip remaining steps and analysis."
    )
    rejected: RejectedTarget | None = Field(default=None, description="The target last rejected.")
    pending_scale_downs: list[PendingScaleDown] = Field(
        default_factory=list, description="Old versions waiting to be scaled down."
    )
    last_handled_control: str | None = Field(
        default=None, description="Value of the modelrollout.io/control annotation last acted on."
    )
    analysis: AnalysisStatus | None = Field(default=None, description="Analysis of the current candidate.")
    ab_test: ABTestStatus | None = Field(default=None, description="A/B test results.")
    history: list[HistoryEntry] = Field(default_factory=list, description="Ended rollouts, newest last (bounded).")
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Conditions in Kubernetes API conventions, one per type.",
        json_schema_extra=list_map("type"),
    )


# The Rollout's name becomes Service names (`R`, `R-preview`, `R-canary`): RFC 1035 labels.
NAME_MAX_LENGTH = 63 - len("-preview")
_NAME_RULES = validations(
    rule(
        f"self.metadata.name.size() <= {NAME_MAX_LENGTH}",
        f"metadata.name: at most {NAME_MAX_LENGTH} characters, so that the Service `<name>-preview` fits in 63",
    ),
    rule(
        "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",
        "metadata.name: lowercase letters, digits and '-', starting with a letter and ending with a letter or"
        " digit (it names Services)",
    ),
)


class Rollout(SpecModel):
    """Rollout moves the traffic of a model from its stable ModelVersion to spec.targetVersion by
    blue-green, canary steps or an A/B test, gated by Prometheus metrics, and rolls back on failure."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=_NAME_RULES)

    api_version: Literal["modelrollout.io/v1alpha1"] = "modelrollout.io/v1alpha1"
    kind: Literal["Rollout"] = "Rollout"
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: RolloutSpec
    status: RolloutStatus | None = None
