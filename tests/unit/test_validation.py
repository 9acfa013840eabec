"""Semantic validation of Rollouts and ModelVersions: one table row per rule, each message checked."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from modelrollout.api.modelversion import ModelVersion, ModelVersionSpec
from modelrollout.api.rollout import RolloutSpec
from modelrollout.api.validation import validate_model_version, validate_rollout
from mutations import Json, Mutation, set_path

NAMESPACE = "team-a"


def _model_version(name: str, version: str, **spec: Any) -> ModelVersion:
    body: Json = {
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "model": "support-agent",
            "version": version,
            "template": {"spec": {"containers": [{"name": "server", "image": f"example/server:{version}"}]}},
            **spec,
        },
    }
    return ModelVersion.model_validate(body)


VERSIONS: dict[str, ModelVersion] = {
    "sa-2-3-1": _model_version("sa-2-3-1", "2.3.1"),
    "sa-2-4-0": _model_version("sa-2-4-0", "2.4.0", parentVersion="2.3.1"),
    "sa-2-5-0-dev": _model_version("sa-2-5-0-dev", "2.5.0", stage="development"),
    "other-1-0-0": _model_version("other-1-0-0", "1.0.0", model="other-model"),
    "sa-2-4-1": ModelVersion.model_validate(
        {
            **_model_version("sa-2-4-1", "2.4.1").model_dump(by_alias=True),
            "status": {"stage": "rejected", "reason": "error rate 9 % > 5 %"},
        }
    ),
}

METRICS: list[Json] = [
    {"name": "error-rate", "preset": "errorRate"},
    {"name": "latency-p95", "preset": "latencyP95"},
    {"name": "cost", "preset": "costPerRequest", "maxRatioToBaseline": 3},
    {"name": "resolution", "query": 'sum(x{version="{{version}}"}[{{window}}])', "min": 0.6},
]

CANARY: Json = {
    "model": "support-agent",
    "targetVersion": "sa-2-4-0",
    "strategy": {
        "canary": {
            "steps": [
                {"setWeight": 20},
                {"pause": {"duration": "30s"}},
                {"analysis": {"metrics": ["error-rate", "latency-p95"]}},
                {"setWeight": 50},
                {"pause": {}},
            ]
        }
    },
    "analysis": {"metrics": METRICS},
}
BLUE_GREEN: Json = {
    **CANARY,
    "strategy": {"blueGreen": {"prePromotionAnalysis": ["error-rate"], "postPromotionAnalysis": ["cost"]}},
}
AB_TEST: Json = {
    **CANARY,
    "strategy": {
        "abTest": {
            "variants": [{"version": "sa-2-3-1", "weight": 50}, {"version": "sa-2-4-0", "weight": 50}],
            "metrics": [{"name": "error-rate", "guardrail": True}, {"name": "latency-p95"}],
        }
    },
}


def _spec(base: Json, *mutations: Mutation) -> RolloutSpec:
    body = copy.deepcopy(base)
    for mutate in mutations:
        mutate(body)
    return RolloutSpec.model_validate(body)


@pytest.mark.parametrize("base", [CANARY, BLUE_GREEN, AB_TEST], ids=["canary", "blueGreen", "abTest"])
def test_valid_rollouts_have_no_problems(base: Json) -> None:
    assert validate_rollout(_spec(base), VERSIONS, NAMESPACE) == []


@pytest.mark.parametrize(
    ("base", "mutations"),
    [
        pytest.param(CANARY, [set_path("analysis.metrics.3.query", "x{v='{{ version }}'}[{{window}}]")], id="spaces"),
        pytest.param(CANARY, [set_path("analysis.metrics.0.max", 0.01)], id="preset-with-threshold"),
        pytest.param(
            CANARY, [set_path("strategy.canary.trafficRouting", {"gatewayAPI": {"httpRoute": "r"}})], id="gateway"
        ),
        pytest.param(CANARY, [set_path("strategy.canary.trafficRouting", {"userHash": {}})], id="user-hash"),
        pytest.param(BLUE_GREEN, [set_path("strategy.blueGreen", {})], id="blue-green-no-analysis"),
        pytest.param(CANARY, [set_path("targetVersion", "sa-2-3-1")], id="target-is-a-previous-version"),
    ],
)
def test_also_valid(base: Json, mutations: list[Mutation]) -> None:
    assert validate_rollout(_spec(base, *mutations), VERSIONS, NAMESPACE) == []


INVALID_ROLLOUTS = [
    # --- the ModelVersions a Rollout names
    (
        "target-missing",
        CANARY,
        [set_path("targetVersion", "sa-9-9-9")],
        "spec.targetVersion: ModelVersion 'sa-9-9-9' not found in namespace 'team-a'",
    ),
    (
        "target-other-model",
        CANARY,
        [set_path("targetVersion", "other-1-0-0")],
        "spec.targetVersion: ModelVersion 'other-1-0-0' belongs to model 'other-model', not 'support-agent'",
    ),
    (
        "target-in-development",
        CANARY,
        [set_path("targetVersion", "sa-2-5-0-dev")],
        "spec.targetVersion: ModelVersion 'sa-2-5-0-dev' is in stage development and may not be rolled out;"
        " set its spec.stage to staging",
    ),
    (
        "target-rejected",
        CANARY,
        [set_path("targetVersion", "sa-2-4-1")],
        "spec.targetVersion: ModelVersion 'sa-2-4-1' was rejected (error rate 9 % > 5 %)",
    ),
    (
        "variant-missing",
        AB_TEST,
        [set_path("strategy.abTest.variants.0", {"version": "gone", "weight": 50})],
        "spec.strategy.abTest.variants[0].version: ModelVersion 'gone' not found in namespace 'team-a'",
    ),
    (
        "variant-in-development",
        AB_TEST,
        [set_path("strategy.abTest.variants.0", {"version": "sa-2-5-0-dev", "weight": 50})],
        "spec.strategy.abTest.variants[0].version: ModelVersion 'sa-2-5-0-dev' is in stage development",
    ),
    (
        "variant-other-model",
        AB_TEST,
        [set_path("strategy.abTest.variants.0", {"version": "other-1-0-0", "weight": 50})],
        "spec.strategy.abTest.variants[0].version: ModelVersion 'other-1-0-0' belongs to model 'other-model'",
    ),
    # --- metric definitions
    (
        "unknown-preset",
        CANARY,
        [set_path("analysis.metrics.0.preset", "errorRat")],
        "spec.analysis.metrics[0].preset: unknown preset 'errorRat';"
        " known presets: costPerRequest, errorRate, hallucinationRate, latencyP95, qualityScore,"
        " tokensPerRequest",
    ),
    (
        "unknown-template-variable",
        CANARY,
        [set_path("analysis.metrics.3.query", 'x{v="{{foo}}",w="{{ version }}"}')],
        "spec.analysis.metrics[3].query: unknown template variable {{foo}}; the variables are {{model}},",
    ),
    (
        "unbalanced-template",
        CANARY,
        [set_path("analysis.metrics.3.query", 'x{v="{{version"}')],
        "spec.analysis.metrics[3].query: unbalanced '{{' or '}}'",
    ),
    (
        "neither-preset-nor-query",
        CANARY,
        [set_path("analysis.metrics.0.preset", None), set_path("analysis.metrics.0.max", 1)],
        "spec.analysis.metrics[0]: set preset (a built-in metric), query",
    ),
    (
        "query-without-threshold",
        CANARY,
        [set_path("analysis.metrics.3.min", None)],
        "spec.analysis.metrics[3]: a metric with a query or a ratio needs a threshold",
    ),
    (
        "query-and-preset",
        CANARY,
        [set_path("analysis.metrics.3.preset", "errorRate")],
        "spec.analysis.metrics[3]: set one of preset, query or ratio",
    ),
    (
        "two-thresholds",
        CANARY,
        [set_path("analysis.metrics.3.max", 0.9)],
        "spec.analysis.metrics[3]: set at most one threshold:"
        " max, min, maxRatioToBaseline or minRatioToBaseline (found: max, min)",
    ),
    (
        "duplicate-metric",
        CANARY,
        [set_path("analysis.metrics.2.name", "error-rate")],
        "spec.analysis.metrics[2].name: metric 'error-rate' is already defined at spec.analysis.metrics[0]",
    ),
    # --- metric references
    (
        "canary-step-unknown-metric",
        CANARY,
        [set_path("strategy.canary.steps.2.analysis.metrics", ["error-rate", "nope"])],
        "spec.strategy.canary.steps[2].analysis.metrics:"
        " metric 'nope' is not defined in spec.analysis.metrics"
        " (defined: error-rate, latency-p95, cost, resolution)",
    ),
    (
        "canary-step-without-analysis-section",
        CANARY,
        [set_path("analysis", None), set_path("strategy.canary.steps.2.analysis.metrics", ["error-rate"])],
        "spec.strategy.canary.steps[2].analysis.metrics: metric 'error-rate' is not defined in"
        " spec.analysis.metrics (defined: none)",
    ),
    (
        "pre-promotion-unknown-metric",
        BLUE_GREEN,
        [set_path("strategy.blueGreen.prePromotionAnalysis", ["nope"])],
        "spec.strategy.blueGreen.prePromotionAnalysis: metric 'nope' is not defined",
    ),
    (
        "post-promotion-unknown-metric",
        BLUE_GREEN,
        [set_path("strategy.blueGreen.postPromotionAnalysis", ["nope"])],
        "spec.strategy.blueGreen.postPromotionAnalysis: metric 'nope' is not defined",
    ),
    (
        "ab-test-unknown-metric",
        AB_TEST,
        [set_path("strategy.abTest.metrics", [{"name": "nope"}])],
        "spec.strategy.abTest.metrics: metric 'nope' is not defined",
    ),
    (
        "ab-test-custom-query",
        AB_TEST,
        [set_path("strategy.abTest.metrics", [{"name": "resolution"}])],
        "spec.strategy.abTest.metrics[0]: metric 'resolution' uses a custom query, which has no per-request counts",
    ),
    (
        "ab-test-cost",
        AB_TEST,
        [set_path("strategy.abTest.metrics", [{"name": "cost"}])],
        "metric 'cost' uses preset costPerRequest, which has no per-request counts to compare",
    ),
    (
        "ab-test-only-guardrails",
        AB_TEST,
        [set_path("strategy.abTest.metrics", [{"name": "error-rate", "guardrail": True}])],
        "spec.strategy.abTest.metrics: every metric is a guardrail",
    ),
    # --- shapes the CRD also enforces (pydantic does not run CEL)
    (
        "ab-test-two-routers",
        AB_TEST,
        [set_path("strategy.abTest.trafficRouting", {"gatewayAPI": {"httpRoute": "r"}, "userHash": {}})],
        "spec.strategy.abTest.trafficRouting: set at most one traffic router:"
        " replicas, gatewayAPI or userHash (found: gatewayAPI, userHash)",
    ),
    (
        "two-strategies",
        CANARY,
        [set_path("strategy.blueGreen", {})],
        "spec.strategy: set exactly one strategy: blueGreen, canary or abTest (found: blueGreen, canary)",
    ),
    (
        "no-strategy",
        CANARY,
        [set_path("strategy", {})],
        "spec.strategy: set exactly one strategy: blueGreen, canary or abTest (found: none)",
    ),
    (
        "step-with-two-kinds",
        CANARY,
        [set_path("strategy.canary.steps.0", {"setWeight": 20, "pause": {}})],
        "spec.strategy.canary.steps[0]: set exactly one of setWeight, pause, analysis or shadow"
        " (found: setWeight, pause)",
    ),
    (
        "empty-step",
        CANARY,
        [set_path("strategy.canary.steps.0", {})],
        "spec.strategy.canary.steps[0]: set exactly one of setWeight, pause, analysis or shadow (found: none)",
    ),
    (
        "two-routers",
        CANARY,
        [set_path("strategy.canary.trafficRouting", {"replicas": {}, "userHash": {}})],
        "spec.strategy.canary.trafficRouting: set at most one traffic router:"
        " replicas, gatewayAPI or userHash (found: replicas, userHash)",
    ),
    (
        "shadow-with-replicas-router",
        CANARY,
        [set_path("strategy.canary.steps.0", {"shadow": {"percent": 5, "duration": "1m"}})],
        "spec.strategy.canary.steps: a shadow step mirrors requests, which only the gatewayAPI traffic router can do",
    ),
    (
        "shadow-with-user-hash-router",
        CANARY,
        [
            set_path("strategy.canary.steps.0", {"shadow": {"percent": 5, "duration": "1m"}}),
            set_path("strategy.canary.trafficRouting", {"userHash": {}}),
        ],
        "set spec.strategy.canary.trafficRouting.gatewayAPI or remove the shadow step",
    ),
    (
        "weights-sum-to-90",
        AB_TEST,
        [set_path("strategy.abTest.variants.0", {"version": "sa-2-3-1", "weight": 40})],
        "spec.strategy.abTest.variants: weights must sum to 100, not 90",
    ),
    (
        "same-variant-twice",
        AB_TEST,
        [set_path("strategy.abTest.variants.0", {"version": "sa-2-4-0", "weight": 50})],
        "spec.strategy.abTest.variants[1].version: ModelVersion 'sa-2-4-0' is already variants[0]",
    ),
]


@pytest.mark.parametrize(
    ("base", "mutations", "expected"),
    [pytest.param(base, mutations, expected, id=name) for name, base, mutations, expected in INVALID_ROLLOUTS],
)
def test_invalid_rollouts_are_explained(base: Json, mutations: list[Mutation], expected: str) -> None:
    errors = validate_rollout(_spec(base, *mutations), VERSIONS, NAMESPACE)
    assert len(errors) == 1, errors
    assert expected in errors[0]


def test_every_problem_is_reported_at_once() -> None:
    spec = _spec(
        CANARY,
        set_path("targetVersion", "sa-9-9-9"),
        set_path("analysis.metrics.0.preset", "errorRat"),
        set_path("strategy.canary.steps.2.analysis.metrics", ["nope"]),
    )
    errors = validate_rollout(spec, VERSIONS, NAMESPACE)
    assert [error.split(":")[0] for error in errors] == [
        "spec.analysis.metrics[0].preset",
        "spec.strategy.canary.steps[2].analysis.metrics",
        "spec.targetVersion",
    ]


def test_a_target_that_is_also_a_variant_is_reported_once() -> None:
    spec = _spec(
        AB_TEST, set_path("targetVersion", "sa-9-9-9"), set_path("strategy.abTest.variants.1.version", "sa-9-9-9")
    )
    assert validate_rollout(spec, VERSIONS, NAMESPACE) == [
        "spec.targetVersion: ModelVersion 'sa-9-9-9' not found in namespace 'team-a'"
    ]


# ---------------------------------------------------------------- ModelVersion

CONTAINER = {"name": "server", "image": "example/server:2.4.0"}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({}, [], id="valid"),
        pytest.param({"parentVersion": "2.3.1"}, [], id="with-parent"),
        pytest.param(
            {"parentVersion": "2.4.0"},
            ["spec.parentVersion: must differ from spec.version '2.4.0'"],
            id="parent-is-itself",
        ),
        pytest.param(
            {"template": {"spec": {"containers": [CONTAINER, {**CONTAINER, "image": "other:1"}]}}},
            ["spec.template.spec.containers[1].name: container name 'server' is already used by containers[0]"],
            id="duplicate-container",
        ),
    ],
)
def test_model_version(changes: Json, expected: list[str]) -> None:
    spec = ModelVersionSpec.model_validate(
        {
            "model": "support-agent",
            "version": "2.4.0",
            "template": {"spec": {"containers": [CONTAINER]}},
            **changes,
        }
    )
    errors = validate_model_version(spec)
    assert len(errors) == len(expected), errors
    for error, prefix in zip(errors, expected, strict=True):
        assert error.startswith(prefix)
