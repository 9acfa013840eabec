"""Rollout: how traffic moves from the stable version of a model to a target version."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from modelrollout.api.cel import JsonDict, JsonValue, at_least, list_map, list_set, merge, one_of, rule, validations
from modelrollout.api.common import (
    Condition,
    DnsLabel,
    Duration,
    ObjectName,
    Percent,
    SpecModel,
    StatusModel,
)
from modelrollout.api.notifications import RolloutNotifications
from modelrollout.api.registry import CompatibilityPolicy, EmergencyStop, RetentionPolicy
from modelrollout.api.rollback import RollbackDrain, RollbackPolicy

KIND = "Rollout"
PLURAL = "rollouts"

Severity = Literal["critical", "warning"]
OnNoData = Literal["pause", "rollback", "ignore"]
Verdict = Literal["pass", "fail", "collecting", "inconclusive"]
OnUndecided = Literal["pause", "rollback"]
Phase = Literal["Initializing", "Progressing", "Paused", "Promoting", "Healthy", "Degraded", "RolledBack"]
Outcome = Literal["Promoted", "RolledBack", "Aborted", "Superseded", "Cancelled", "Stopped", "UndoRequested"]


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
                "(has(self.query) ? 1 : 0) + (has(self.preset) ? 1 : 0) + (has(self.ratio) ? 1 : 0) <= 1",
                "set one of preset, query or ratio: a preset brings its own query"
                " (to change the query, remove preset and give the query or ratio a threshold)",
            ),
            rule(
                "has(self.query) || has(self.preset) || has(self.ratio)",
                "set preset (a built-in metric), query (a PromQL template with one threshold)"
                " or ratio (numerator and denominator count queries with one threshold)",
            ),
            rule(
                f"{_THRESHOLD_COUNT} <= 1",
                "set at most one threshold: max, min, maxRatioToBaseline or minRatioToBaseline",
            ),
            rule(
                # Only the missing-threshold case: too many thresholds and preset+query have their own rules.
                f"!(has(self.query) || has(self.ratio)) || has(self.preset) || {_THRESHOLD_COUNT} >= 1",
                "a metric with a query or a ratio needs a threshold:"
                " max, min, maxRatioToBaseline or minRatioToBaseline",
            ),
            rule(
                f"!has(self.query) || self.query.matches('{template}')",
                f"query uses an unknown template variable: the variables are {listed}",
                field_path=".query",
            ),
            rule(
                f"!has(self.ratio) || (self.ratio.numerator.matches('{template}')"
                f" && self.ratio.denominator.matches('{template}'))",
                f"ratio uses an unknown template variable: the variables are {listed}",
                field_path=".ratio",
            ),
        )
    )


def _preset_schema(schema: JsonDict) -> None:
    """The known presets as an enum, so a typo is rejected at admission with the list of names."""
    from modelrollout.api.presets import PRESETS

    names: list[JsonValue] = [name for name in sorted(PRESETS)]
    schema["enum"] = names


class RatioQueries(SpecModel):
    """A proportion measured with its evidence: how many events of the numerator among the trials of the
    denominator. Both are PromQL templates returning one count; use {{range}} so that they count every
    event since the version under test got traffic, e.g. sum(increase(x_total{...}[{{range}}]))."""

    numerator: str = Field(min_length=1, max_length=4096, description="Count of the events (e.g. failed requests).")
    denominator: str = Field(min_length=1, max_length=4096, description="Count of the trials (e.g. all requests).")


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
            "{{version}} (label value of the version under test), {{stableVersion}}, {{window}} and {{range}}. "
            "Its value is judged as a point estimate (no sample size, no interval): for verdicts with "
            "evidence use a preset or a ratio."
        ),
    )
    ratio: RatioQueries | None = Field(
        default=None,
        description=(
            "A proportion with its evidence (numerator events among denominator trials): judged with an "
            "anytime-valid confidence sequence, like the errorRate preset."
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
        description=(
            "The {{window}} template variable: the range of rate() in your own point-estimate queries. "
            "Verdicts with evidence count over {{range}}: everything since the candidate got traffic."
        ),
        json_schema_extra=at_least("1s", "window"),
    )
    prometheus: PrometheusSpec | None = Field(
        default=None, description="Which Prometheus connection of the operator to read (by name)."
    )
    on_no_data: OnNoData = Field(
        default="pause",
        description="What an inconclusive measurement (no data, NaN, Prometheus down) does: pause, rollback or ignore.",
    )
    error_budget: float = Field(
        default=0.01,
        gt=0,
        le=0.2,
        description=(
            "Largest chance that a healthy candidate is ever rolled back by analysis during a whole rollout, "
            "however often it looks; shared by the critical metrics. Default 0.01 (1 %)."
        ),
    )
    undecided_after: Duration = Field(
        default="10m",
        description="How long an analysis step may keep collecting evidence before onUndecided applies.",
    )
    on_undecided: OnUndecided = Field(
        default="pause",
        description=(
            "What a step still undecided after undecidedAfter does: pause (with a condition; it resumes by itself "
            "once the evidence decides) or rollback. It never promotes."
        ),
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


SHADOW_NEEDS_MIRROR = (
    "a shadow step mirrors requests, which only the gatewayAPI traffic router can do (replica ratio and"
    " user hashing cannot): set spec.strategy.canary.trafficRouting.gatewayAPI or remove the shadow step"
)


class ShadowStep(SpecModel):
    """Mirror a share of requests to the candidate; users only ever see the stable version's answers.

    Background analysis judges the candidate on the mirrored requests, so a bad candidate is
    rejected before it answers any user. Needs a router that can mirror (gatewayAPI).
    """

    percent: int = Field(ge=1, le=100, description="Percentage of requests mirrored to the candidate, 1 to 100.")
    duration: Duration = Field(description="How long to mirror before the next step.")


class CanaryStep(SpecModel):
    """One canary step: exactly one of setWeight, pause, analysis or shadow."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            one_of(
                ("setWeight", "pause", "analysis", "shadow"),
                "exactly one",
                "set exactly one of setWeight, pause, analysis or shadow in each step (split a combined step in two)",
            )
        )
    )

    set_weight: Percent | None = Field(default=None, description="Percentage of traffic for the candidate, 0 to 100.")
    pause: PauseStep | None = Field(default=None, description="Pause for a duration or until promoted.")
    analysis: AnalysisStep | None = Field(default=None, description="Run analysis and wait for its verdict.")
    shadow: ShadowStep | None = Field(
        default=None, description="Mirror requests to the candidate for a while (gatewayAPI router only)."
    )


class ReplicasRouting(SpecModel):
    """Weight by replica counts behind the stable Service; needs no mesh or gateway."""


class GatewayAPIRouting(SpecModel):
    """Weight on the backendRefs of a Gateway API HTTPRoute."""

    http_route: ObjectName = Field(description="HTTPRoute whose rules the operator weights.")


class UserHashRouting(SpecModel):
    """User-consistent assignment: the operator publishes a route table (ConfigMap
    `<rollout>-routes`, key `table.json`) that applications and gateways read and pass, with the
    user id, to `modelrollout.routing.assign.assign`; a user stays on one version as the weight
    grows."""

    header: str = Field(
        default="x-user-id", max_length=253, description="Request header carrying the user id (published in the table)."
    )
    salt: str | None = Field(
        default=None,
        max_length=253,
        description="Mixed into each user's hash; default <namespace>/<rollout>. Changing it reshuffles users.",
    )


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

    model_config = ConfigDict(
        json_schema_extra=validations(
            rule(
                "!self.steps.exists(s, has(s.shadow))"
                " || (has(self.trafficRouting) && has(self.trafficRouting.gatewayAPI))",
                SHADOW_NEEDS_MIRROR,
                field_path=".steps",
            )
        )
    )

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


MAX_AB_VARIANTS = 8


class ABVariant(SpecModel):
    """One arm of an A/B test: a ModelVersion and its share of requests."""

    version: ObjectName = Field(
        description=(
            "ModelVersion name. The version serving before the test (status.stableVersion) is the control "
            "and must be one of the variants; spec.targetVersion must be another."
        )
    )
    weight: Percent = Field(description="Share of requests, 0 to 100; the weights of all variants sum to 100.")


ABBetter = Literal["higher", "lower"]


class ABMetric(SpecModel):
    """A metric compared between the variants: which direction is better, the smallest change worth
    detecting, and whether it only guards against harm."""

    name: DnsLabel = Field(
        description=(
            "Name of a metric in spec.analysis.metrics. A/B tests compare presets whose data has a per-request "
            "distribution: errorRate, hallucinationRate (proportions), qualityScore (mean of 0..1 scores) and "
            "latencyP95 (compared as mean request latency from the histogram)."
        )
    )
    better: ABBetter | None = Field(
        default=None,
        description=(
            "Which direction is better: higher or lower. Default from the metric's threshold: lower for max "
            "and maxRatioToBaseline, higher for min and minRatioToBaseline."
        ),
    )
    minimum_effect: float | None = Field(
        default=None,
        gt=0,
        description=(
            "Smallest absolute difference worth detecting, in the metric's units (0.02 = two points of a rate or "
            "score). The test is tuned for it and the required sample size is computed for it. Defaults: "
            "errorRate 0.01, hallucinationRate 0.01, qualityScore 0.02, latencyP95 0.05 (seconds)."
        ),
    )
    guardrail: bool = Field(
        default=False,
        description=(
            "A guardrail never makes a winner: it only blocks an upgrade (and makes its variant lose) when it "
            "is significantly worse. At least one metric must not be a guardrail."
        ),
    )


class ABTestStrategy(SpecModel):
    """Split traffic between versions and name a winner with a sequential test that stays valid however
    often the operator looks: upgrade, keep or inconclusive, with a confidence."""

    variants: list[ABVariant] = Field(
        min_length=2,
        max_length=MAX_AB_VARIANTS,
        description=(
            "Versions under test and their weights (weights sum to 100, versions differ). The stable version "
            "is the control; every other variant is compared with it."
        ),
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
    traffic_routing: TrafficRouting | None = Field(
        default=None,
        description=(
            "How the weights reach requests: replicas (default; weights rounded to whole pods), gatewayAPI "
            "(exact weights on the HTTPRoute, a Service per variant) or userHash (each user on one variant for "
            "the whole test, through the route table)."
        ),
    )
    metrics: list[ABMetric] = Field(
        min_length=1,
        max_length=16,
        description="Metrics compared between variants, unique by name; at least one is not a guardrail.",
        json_schema_extra=merge(
            list_map("name"),
            validations(
                rule(
                    "self.exists(m, !has(m.guardrail) || !m.guardrail)",
                    "at least one A/B metric must not be a guardrail: guardrails only block, they never pick a winner",
                )
            ),
        ),
    )
    alpha: float = Field(
        default=0.05,
        gt=0,
        lt=1,
        description=(
            "Chance of naming a winner (or loser) when no variant differs, over the whole test however often "
            "it is looked at; shared by every metric and challenger (Bonferroni)."
        ),
    )
    power: float = Field(
        default=0.8,
        gt=0,
        lt=1,
        description="Chance of detecting a difference of minimumEffect; sets the sample size shown in status.",
    )
    min_samples_per_variant: int = Field(
        default=500,
        ge=1,
        description=(
            "Requests (or scores) every variant needs on each non-guardrail metric before any decision; keeps "
            "the variance estimates out of the small-sample range."
        ),
    )
    max_duration: Duration = Field(
        default="24h",
        description=(
            "How long the test runs at most, from the moment every variant serves. Without a decision by then "
            "it ends 'inconclusive: no significant difference' and nothing is promoted."
        ),
    )
    promote_winner: bool = Field(
        default=False,
        description=(
            "On an upgrade decision, promote the winner at once. Otherwise the test holds its traffic split, "
            "reports the decision in status and an Event, and `kubectl modelrollout promote` promotes it."
        ),
    )


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
    rule(
        "!has(self.strategy.abTest) || self.strategy.abTest.metrics.all(m, " + _defined("m.name") + ")",
        "spec.strategy.abTest.metrics names a metric that is not defined in spec.analysis.metrics:"
        " define it there or remove it here",
        field_path=".strategy.abTest.metrics",
    ),
    rule(
        "!has(self.strategy.abTest) || self.strategy.abTest.variants.exists(v, v.version == self.targetVersion)",
        "spec.targetVersion must be one of spec.strategy.abTest.variants: the test starts when it changes",
        field_path=".targetVersion",
    ),
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
    rollback_policy: RollbackPolicy = Field(
        default_factory=RollbackPolicy,
        description=(
            "When traffic leaves a rolled-back candidate: once the stable version has enough ready pods"
            " (default: all of spec.replicas), so a rollback never drops capacity unless asked to."
        ),
    )
    revision_history_limit: int = Field(default=10, ge=0, le=100, description="History entries kept in status.")
    compatibility: CompatibilityPolicy | None = Field(
        default=None, description="What a target may change compared with the stable version (compatibility gates)."
    )
    retention: RetentionPolicy | None = Field(
        default=None, description="Replaced versions kept ready for undo; older ones archived. Empty: none archived."
    )
    notifications: RolloutNotifications | None = Field(
        default=None,
        description="Webhooks of the operator's settings this Rollout subscribes to, by name.",
    )


# ---------------------------------------------------------------- rollout status


class Measurement(StatusModel):
    """One metric measurement and its verdict."""

    metric: str = Field(description="Metric name.")
    version: str = Field(description="ModelVersion measured.")
    value: float | None = Field(default=None, description="Measured value; empty when there was no data.")
    samples: int | None = Field(default=None, description="Sample size behind the value (requests, answers).")
    lower: float | None = Field(
        default=None, description="Lower end of the confidence interval of what the threshold compares."
    )
    upper: float | None = Field(
        default=None, description="Upper end of that interval; empty when nothing bounds it yet."
    )
    baseline: float | None = Field(default=None, description="Same query on the stable version, when compared to it.")
    baseline_samples: int | None = Field(default=None, description="Sample size behind the baseline.")
    e_value: float | None = Field(
        default=None, description="Evidence against the threshold from the change detector (rate metrics)."
    )
    verdict: Verdict = Field(
        description="pass, fail, collecting (evidence not yet decisive: keep measuring) or inconclusive (no data)."
    )
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
    evidence_looks: int = Field(default=0, description="Looks with new events the change detector has taken.")
    evidence_bad: float = Field(default=0, description="Events counted at the last look (rate metrics).")
    evidence_trials: float = Field(default=0, description="Trials counted at the last look (rate metrics).")
    detector: list[float] = Field(
        default_factory=list, description="Change detector state: log e-value per alternative (rate metrics)."
    )


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


ABDecision = Literal["upgrade", "keep", "inconclusive"]
ABConfidence = Literal["high", "medium", "low"]


class ABEstimate(StatusModel):
    """One variant's estimate of one metric."""

    version: str = Field(description="ModelVersion.")
    samples: float = Field(default=0, description="Requests (or scores) measured since the test began.")
    mean: float | None = Field(default=None, description="The estimate; empty without data.")
    ci: list[float] = Field(
        default_factory=list, description="Confidence sequence [lower, upper] at the per-test alpha."
    )


class ABComparison(StatusModel):
    """A challenger against the control on one metric."""

    version: str = Field(description="Challenger ModelVersion.")
    effect: float = Field(description="Challenger minus control, in the metric's units.")
    ci: list[float] = Field(default_factory=list, description="Confidence sequence [lower, upper] of the effect.")
    p_value: float = Field(description="Always-valid p-value (running minimum of 1 / e-value).")
    e_value: float = Field(description="The mSPRT e-value now; the comparison is significant at 1 / (per-test alpha).")
    significant: Literal["better", "worse"] | None = Field(
        default=None, description="better or worse when the confidence sequence excludes no difference."
    )


class ABMetricResult(StatusModel):
    """Everything the test knows about one metric."""

    metric: str = Field(description="Metric name.")
    better: ABBetter = Field(description="Which direction is better.")
    guardrail: bool = Field(default=False, description="Whether it only blocks upgrades.")
    estimates: list[ABEstimate] = Field(default_factory=list, description="Per variant.")
    comparisons: list[ABComparison] = Field(default_factory=list, description="Per challenger.")
    samples_needed: int | None = Field(
        default=None, description="Samples per variant for the requested power at minimumEffect."
    )
    needs: str = Field(default="", description="The sample size in words.")
    message: str = Field(default="", description="Why there is no estimate, when there is none.")


class ABRemoval(StatusModel):
    """A variant taken out of traffic during the test."""

    version: str = Field(description="ModelVersion.")
    reason: str = Field(description="The critical threshold it breached.")
    at: str = Field(description="When (RFC 3339).")
    announced: bool = Field(default=False, description="The Event for it was emitted.")


class ABTestStatus(StatusModel):
    """The A/B test's live answer, in the shape the seed asks for: estimates, effect, p-value, decision
    with its confidence."""

    started_at: str | None = Field(default=None, description="When every variant first served (RFC 3339).")
    control: str | None = Field(default=None, description="The control variant (the stable version).")
    last_look: str | None = Field(default=None, description="When the metrics were last measured.")
    alpha_per_test: float | None = Field(default=None, description="alpha shared out per metric and challenger.")
    metrics: list[ABMetricResult] = Field(default_factory=list, description="Per metric.")
    decision: ABDecision | None = Field(
        default=None, description="upgrade, keep or inconclusive; empty while collecting evidence."
    )
    confidence: ABConfidence | None = Field(default=None, description="high, medium or low.")
    winner: str | None = Field(
        default=None, description="The variant to serve: the upgrade's winner, or the control on keep."
    )
    effect: float | None = Field(default=None, description="The winner's effect on its best primary metric.")
    p_value: float | None = Field(default=None, description="The p-value of that comparison.")
    reason: str = Field(default="", description="The decision in words.")
    removed: list[ABRemoval] = Field(default_factory=list, description="Variants taken out of traffic.")
    promotion_approved: bool = Field(default=False, description="A user promoted during the test.")
    concluded_generation: int | None = Field(
        default=None, description="Rollout generation the test ended at; a new test needs a spec change."
    )


class HistoryEntry(StatusModel):
    """How one candidate's rollout ended."""

    version: str = Field(description="ModelVersion.")
    outcome: Outcome = Field(
        description="Promoted, RolledBack, Aborted, Superseded, Cancelled, Stopped (emergency stop) or UndoRequested."
    )
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
    shadow_percent: int | None = Field(
        default=None, description="Percentage of requests mirrored to the candidate now (users never see its answers)."
    )
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
    rollback_drain: RollbackDrain | None = Field(
        default=None,
        description="A rollback waiting for stable capacity: the rolled-back candidate still serves a share.",
    )
    pending_scale_downs: list[PendingScaleDown] = Field(
        default_factory=list, description="Old versions waiting to be scaled down."
    )
    last_handled_control: str | None = Field(
        default=None, description="Value of the modelrollout.io/control annotation last acted on."
    )
    emergency_stop: EmergencyStop | None = Field(
        default=None, description="An emergency stop in force: all traffic on the stable version until resume."
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
