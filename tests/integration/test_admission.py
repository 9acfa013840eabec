"""The CRDs at a real kube-apiserver: examples are accepted, malformed objects rejected with messages
that name the field, ModelVersions stay immutable, and what the schema cannot see is caught by
`validate_rollout` on the objects as the API server returns them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelrollout.api.modelversion import ModelVersion
from modelrollout.api.rollout import Rollout
from modelrollout.api.validation import validate_rollout
from modelrollout.devenv import LocalCluster
from mutations import Json, Mutation, set_path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _example(name: str) -> Json:
    loaded: Json = yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))
    return loaded


CANARY = _example("rollout-canary.yaml")
BLUE_GREEN = _example("rollout-bluegreen.yaml")
AB_TEST = _example("rollout-abtest.yaml")
MV_231 = _example("modelversion-2.3.1.yaml")
MV_240 = _example("modelversion-2.4.0.yaml")


def _append(path: str, value: Any) -> Mutation:
    def mutate(body: Json) -> None:
        node: Any = body
        for key in path.split("."):
            node = node[int(key)] if isinstance(node, list) else node[key]
        node.append(value)

    return mutate


def _variant(object_: Json, *mutations: Mutation) -> Json:
    body = copy.deepcopy(object_)
    for mutate in mutations:
        mutate(body)
    return body


def _create(cluster: LocalCluster, namespace: str, body: Json) -> tuple[int, str]:
    """`kubectl create` for real (not a dry run); the exit code and what kubectl printed."""
    result = cluster.kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(body), check=False)
    return result.returncode, result.stderr + result.stdout


def _get(cluster: LocalCluster, namespace: str, resource: str) -> list[Json]:
    items: list[Json] = json.loads(cluster.kubectl("get", resource, "-n", namespace, "-o", "json").stdout)["items"]
    return items


@pytest.fixture(scope="module")
def scratch_namespace(crds: LocalCluster) -> Iterator[str]:
    """One namespace for the rejection table: rejected objects leave nothing behind."""
    name = "admission-rejections"
    crds.kubectl("create", "namespace", name)
    yield name
    crds.kubectl("delete", "namespace", name, "--wait=false")


# ---------------------------------------------------------------- examples


def test_examples_are_created_and_read_back(crds: LocalCluster, namespace: str) -> None:
    crds.kubectl("apply", "-n", namespace, "-f", str(EXAMPLES))

    for item in _get(crds, namespace, "modelversions"):
        stored = ModelVersion.model_validate(item)
        example = _example(f"modelversion-{stored.spec.version}.yaml")
        assert stored.spec == ModelVersion.model_validate(example).spec
    rollouts = {item["metadata"]["name"]: Rollout.model_validate(item) for item in _get(crds, namespace, "rollouts")}
    for name in (
        "rollout-canary.yaml",
        "rollout-canary-gatewayapi.yaml",
        "rollout-canary-userhash.yaml",
        "rollout-bluegreen.yaml",
        "rollout-abtest.yaml",
        "rollout-abtest-userhash.yaml",
    ):
        example = _example(name)
        assert rollouts[example["metadata"]["name"]].spec == Rollout.model_validate(example).spec

    # The API server applied the schema's defaults, and they are the models' defaults.
    canary = rollouts["support-agent-canary"].spec.analysis
    assert canary is not None and canary.metrics[0].background is True

    header = crds.kubectl("get", "mro", "-n", namespace).stdout.splitlines()[0].split()
    assert header == ["NAME", "PHASE", "STABLE", "CANDIDATE", "WEIGHT", "STEP", "AGE"]
    header = crds.kubectl("get", "mv", "-n", namespace).stdout.splitlines()[0].split()
    assert header == ["NAME", "MODEL", "VERSION", "STAGE", "ERRORS", "P95-MS", "QUALITY", "AGE"]
    listed = crds.kubectl("get", "modelrollout", "-n", namespace, "-o", "name").stdout.split()
    assert len(listed) == 8, "the modelrollout category lists both kinds"


def test_kubectl_explain_shows_the_model_descriptions(crds: LocalCluster) -> None:
    # kubectl wraps descriptions at its terminal width: compare with whitespace normalised.
    explained = " ".join(crds.kubectl("explain", "mro.spec.strategy.canary.steps").stdout.split())
    assert "Ordered steps; the candidate is promoted after the last." in explained
    assert "exactly one of setWeight, pause, analysis or shadow" in explained
    assert "Percentage of traffic for the candidate, 0 to 100." in explained
    explained = " ".join(crds.kubectl("explain", "mv.spec").stdout.split())
    assert "Immutable after creation except `stage`" in explained


# ---------------------------------------------------------------- rejected at admission

REJECTED: list[tuple[str, Json, list[Mutation], list[str]]] = [
    # --- strategy and canary steps
    (
        "both-strategies",
        CANARY,
        [set_path("spec.strategy.blueGreen", {})],
        ["spec.strategy", "set exactly one strategy: blueGreen, canary or abTest"],
    ),
    (
        "no-strategy",
        CANARY,
        [set_path("spec.strategy", {})],
        ["spec.strategy", "set exactly one strategy"],
    ),
    (
        "set-weight-120",
        CANARY,
        [set_path("spec.strategy.canary.steps.0", {"setWeight": 120})],
        ["spec.strategy.canary.steps[0].setWeight", "less than or equal to 100"],
    ),
    (
        "set-weight-minus-10",
        CANARY,
        [set_path("spec.strategy.canary.steps.0", {"setWeight": -10})],
        ["spec.strategy.canary.steps[0].setWeight", "greater than or equal to 0"],
    ),
    (
        "step-with-weight-and-pause",
        CANARY,
        [set_path("spec.strategy.canary.steps.0", {"setWeight": 20, "pause": {}})],
        ["spec.strategy.canary.steps[0]", "set exactly one of setWeight, pause, analysis or shadow"],
    ),
    (
        "empty-step",
        CANARY,
        [set_path("spec.strategy.canary.steps.0", {})],
        ["spec.strategy.canary.steps[0]", "set exactly one of setWeight, pause, analysis or shadow"],
    ),
    (
        "shadow-without-a-mirroring-router",
        CANARY,
        [set_path("spec.strategy.canary.steps.0", {"shadow": {"percent": 5, "duration": "1m"}})],
        ["spec.strategy.canary.steps", "only the gatewayAPI traffic router can do"],
    ),
    (
        "shadow-of-0-percent",
        CANARY,
        [
            set_path("spec.strategy.canary.steps.0", {"shadow": {"percent": 0, "duration": "1m"}}),
            set_path("spec.strategy.canary.trafficRouting", {"gatewayAPI": {"httpRoute": "r"}}),
        ],
        ["spec.strategy.canary.steps[0].shadow.percent", "greater than or equal to 1"],
    ),
    (
        "negative-pause",
        CANARY,
        [set_path("spec.strategy.canary.steps.1", {"pause": {"duration": "-5s"}})],
        ["spec.strategy.canary.steps[1].pause.duration", '"-5s"'],
    ),
    (
        "duration-in-words",
        CANARY,
        [set_path("spec.analysis.interval", "5 minutes")],
        ["spec.analysis.interval", '"5 minutes"'],
    ),
    (
        "two-traffic-routers",
        CANARY,
        [set_path("spec.strategy.canary.trafficRouting", {"replicas": {}, "userHash": {"header": "x-user"}})],
        ["spec.strategy.canary.trafficRouting", "set at most one traffic router"],
    ),
    (
        "step-names-undefined-metric",
        CANARY,
        [set_path("spec.strategy.canary.steps.2", {"analysis": {"metrics": ["error-rate", "typo"]}})],
        ["spec.strategy.canary.steps", "not defined in spec.analysis.metrics"],
    ),
    (
        "zero-replicas",
        CANARY,
        [set_path("spec.replicas", 0)],
        ["spec.replicas", "greater than or equal to 1"],
    ),
    (
        "target-not-a-name",
        CANARY,
        [set_path("spec.targetVersion", "Support_Agent 2.4.0")],
        ["spec.targetVersion", '"Support_Agent 2.4.0"'],
    ),
    (
        "unknown-field",
        CANARY,
        [set_path("spec.stratgey", {})],
        ['unknown field "spec.stratgey"'],
    ),
    # --- metrics
    (
        "metric-with-max-and-min",
        CANARY,
        [set_path("spec.analysis.metrics.3.max", 0.99)],
        [
            "spec.analysis.metrics[3]",
            "set at most one threshold: max, min, maxRatioToBaseline or minRatioToBaseline",
        ],
    ),
    (
        "metric-with-query-and-preset",
        CANARY,
        [set_path("spec.analysis.metrics.0.query", "vector(0)")],
        ["spec.analysis.metrics[0]", "set one of preset, query or ratio"],
    ),
    (
        "metric-without-query-or-preset",
        CANARY,
        [set_path("spec.analysis.metrics.0", {"name": "error-rate", "max": 0.05})],
        ["spec.analysis.metrics[0]", "set preset (a built-in metric), query"],
    ),
    (
        "query-without-threshold",
        CANARY,
        [set_path("spec.analysis.metrics.3.minRatioToBaseline", None)],
        ["spec.analysis.metrics[3]", "a metric with a query or a ratio needs a threshold"],
    ),
    (
        "ratio-with-unknown-variable",
        CANARY,
        [set_path("spec.analysis.metrics.3.ratio.numerator", "sum(increase(x[{{rnage}}]))")],
        ["spec.analysis.metrics[3].ratio", "unknown template variable"],
    ),
    (
        "unknown-preset",
        CANARY,
        [set_path("spec.analysis.metrics.0.preset", "errorRat")],
        ["spec.analysis.metrics[0].preset", '"errorRat"', '"errorRate"', '"latencyP95"'],
    ),
    (
        "unknown-template-variable",
        CANARY,
        [
            set_path("spec.analysis.metrics.3.ratio", None),
            set_path("spec.analysis.metrics.3.query", 'sum(rate(x{version="{{versoin}}"}[{{window}}]))'),
        ],
        ["spec.analysis.metrics[3].query", "unknown template variable", "{{version}}"],
    ),
    (
        "duplicate-metric-name",
        CANARY,
        [set_path("spec.analysis.metrics.2.name", "error-rate")],
        ["spec.analysis.metrics[2]", "Duplicate value", "error-rate"],
    ),
    (
        "ratio-threshold-zero",
        CANARY,
        [set_path("spec.analysis.metrics.3.minRatioToBaseline", 0)],
        ["spec.analysis.metrics[3].minRatioToBaseline", "greater than 0"],
    ),
    (
        "on-no-data-promote",
        CANARY,
        [set_path("spec.analysis.onNoData", "promote")],
        ["spec.analysis.onNoData", '"promote"', '"pause"'],
    ),
    # --- blue-green
    (
        "pre-promotion-undefined-metric",
        BLUE_GREEN,
        [set_path("spec.strategy.blueGreen.prePromotionAnalysis", ["error-rate", "typo"])],
        ["spec.strategy.blueGreen.prePromotionAnalysis", "not defined in spec.analysis.metrics"],
    ),
    (
        "post-promotion-duplicates",
        BLUE_GREEN,
        [set_path("spec.strategy.blueGreen.postPromotionAnalysis", ["error-rate", "error-rate"])],
        ["spec.strategy.blueGreen.postPromotionAnalysis[1]", "Duplicate value"],
    ),
    (
        "negative-scale-down-delay",
        BLUE_GREEN,
        [set_path("spec.strategy.blueGreen.scaleDownDelaySeconds", -1)],
        ["spec.strategy.blueGreen.scaleDownDelaySeconds", "greater than or equal to 0"],
    ),
    # --- A/B test
    (
        "variants-sum-to-90",
        AB_TEST,
        [set_path("spec.strategy.abTest.variants.0.weight", 40)],
        ["spec.strategy.abTest.variants", "variant weights must sum to 100"],
    ),
    (
        "same-variant-twice",
        AB_TEST,
        [set_path("spec.strategy.abTest.variants.0.version", "support-agent-2-4-0")],
        ["spec.strategy.abTest.variants", "each variant needs a different version"],
    ),
    (
        "single-variant",
        AB_TEST,
        [set_path("spec.strategy.abTest.variants", [{"version": "support-agent-2-4-0", "weight": 100}])],
        ["spec.strategy.abTest.variants", "at least 2 items"],
    ),
    (
        "alpha-one",
        AB_TEST,
        [set_path("spec.strategy.abTest.alpha", 1)],
        ["spec.strategy.abTest.alpha", "less than 1"],
    ),
    (
        "ab-metric-undefined",
        AB_TEST,
        [set_path("spec.strategy.abTest.metrics", [{"name": "quality-score"}, {"name": "typo"}])],
        ["spec.strategy.abTest.metrics", "not defined in spec.analysis.metrics"],
    ),
    (
        "ab-metrics-only-guardrails",
        AB_TEST,
        [set_path("spec.strategy.abTest.metrics", [{"name": "error-rate", "guardrail": True}])],
        ["spec.strategy.abTest.metrics", "at least one A/B metric must not be a guardrail"],
    ),
    (
        "ab-target-not-a-variant",
        AB_TEST,
        [set_path("spec.strategy.abTest.variants.1.version", "support-agent-2-5-0")],
        ["spec.targetVersion", "must be one of spec.strategy.abTest.variants"],
    ),
    (
        "negative-max-duration",
        AB_TEST,
        [set_path("spec.strategy.abTest.maxDuration", "-1h")],
        ["spec.strategy.abTest.maxDuration", '"-1h"'],
    ),
    # --- ModelVersion
    (
        "version-2.4",
        MV_240,
        [set_path("spec.version", "2.4")],
        ["spec.version", '"2.4"'],
    ),
    (
        "version-with-v",
        MV_240,
        [set_path("spec.version", "v2.4.0")],
        ["spec.version", '"v2.4.0"'],
    ),
    (
        "parent-is-itself",
        MV_240,
        [set_path("spec.parentVersion", "2.4.0")],
        ["spec.parentVersion", "must differ from spec.version"],
    ),
    (
        "stage-production-by-hand",
        MV_240,
        [set_path("spec.stage", "production")],
        ["spec.stage", '"production"', '"staging"'],
    ),
    (
        "no-containers",
        MV_240,
        [set_path("spec.template.spec.containers", [])],
        ["spec.template.spec.containers", "at least 1 items"],
    ),
    # --- names that cannot become Service names, durations too short to act on
    (
        "name-with-a-dot",
        CANARY,
        [set_path("metadata.name", "support.agent")],
        ["metadata.name: lowercase letters, digits and '-', starting with a letter"],
    ),
    (
        "name-with-a-leading-digit",
        CANARY,
        [set_path("metadata.name", "1support")],
        ["metadata.name: lowercase letters"],
    ),
    (
        "name-too-long-for-preview",
        CANARY,
        [set_path("metadata.name", "a" * 56)],
        ["metadata.name: at most 55 characters"],
    ),
    (
        "interval-1ms",
        CANARY,
        [set_path("spec.analysis.interval", "1ms")],
        ["spec.analysis.interval", "interval: at least 1s"],
    ),
    (
        "window-0s",
        CANARY,
        [set_path("spec.analysis.window", "0s")],
        ["spec.analysis.window", "window: at least 1s"],
    ),
    (
        "timeout-0s",
        CANARY,
        [set_path("spec.analysis.prometheus", {"timeout": "0s"})],
        ["spec.analysis.prometheus.timeout", "timeout: at least 100ms"],
    ),
    (
        "empty-query",
        CANARY,
        [set_path("spec.analysis.metrics", [{"name": "errors", "query": "", "max": 0.05}])],
        ["spec.analysis.metrics[0].query"],
    ),
    (
        "duplicate-container",
        MV_240,
        [_append("spec.template.spec.containers", {"name": "server", "image": "example/sidecar:1"})],
        ["spec.template.spec.containers[1]", "Duplicate value"],
    ),
    (
        "model-not-a-label",
        MV_240,
        [set_path("spec.model", "Support Agent")],
        ["spec.model", '"Support Agent"'],
    ),
    (
        "temperature-3",
        MV_240,
        [set_path("spec.artifact.parameters.temperature", 3)],
        ["spec.artifact.parameters.temperature", "less than or equal to 2"],
    ),
    (
        "no-template",
        MV_240,
        [set_path("spec.template", None)],
        ["spec.template", "Required value"],
    ),
]


@pytest.mark.parametrize(
    ("body", "mutations", "expected"),
    [pytest.param(body, mutations, expected, id=name) for name, body, mutations, expected in REJECTED],
)
def test_malformed_object_is_rejected_naming_the_field(
    crds: LocalCluster, scratch_namespace: str, body: Json, mutations: list[Mutation], expected: list[str]
) -> None:
    code, output = _create(crds, scratch_namespace, _variant(body, *mutations))
    assert code != 0, f"accepted: {output}"
    for text in expected:
        assert text in output


def test_rejection_table_is_big_enough() -> None:
    assert len(REJECTED) >= 25


# ---------------------------------------------------------------- updates


def test_model_version_is_immutable_except_stage(crds: LocalCluster, namespace: str) -> None:
    crds.kubectl("apply", "-n", namespace, "-f", str(EXAMPLES / "modelversion-2.4.0.yaml"))
    name = MV_240["metadata"]["name"]

    def patch(spec: Json) -> tuple[int, str]:
        body = json.dumps({"spec": spec})
        result = crds.kubectl("patch", "mv", name, "-n", namespace, "--type=merge", "-p", body, check=False)
        return result.returncode, result.stderr + result.stdout

    rejected: list[tuple[Json, str]] = [
        ({"version": "2.4.1"}, "spec.version is immutable: create a new ModelVersion for a new version"),
        ({"model": "billing-agent"}, "spec.model is immutable"),
        ({"parentVersion": None}, "spec.parentVersion is immutable"),
        ({"artifact": {"parameters": {"temperature": 0.7}}}, "spec.artifact is immutable"),
        ({"compatibility": {"minApiVersion": "v4"}}, "spec.compatibility is immutable"),
        ({"description": "rewritten history"}, "spec.description is immutable"),
        ({"template": {"metadata": {"labels": {"team": "x"}}}}, "spec.template is immutable"),
    ]
    for spec, message in rejected:
        code, output = patch(spec)
        assert code != 0 and message in output, (spec, output)

    code, output = patch({"stage": "development"})
    assert code == 0, output
    stored = ModelVersion.model_validate(_get(crds, namespace, "modelversions")[0])
    assert stored.spec.stage == "development"
    assert stored.spec.version == "2.4.0"


def test_rollout_target_may_change_but_not_its_model(crds: LocalCluster, namespace: str) -> None:
    crds.kubectl("apply", "-n", namespace, "-f", str(EXAMPLES / "rollout-canary.yaml"))
    name = CANARY["metadata"]["name"]
    retarget = json.dumps({"spec": {"targetVersion": "support-agent-2-3-1"}})
    crds.kubectl("patch", "mro", name, "-n", namespace, "--type=merge", "-p", retarget)
    other_model = json.dumps({"spec": {"model": "billing-agent"}})
    result = crds.kubectl("patch", "mro", name, "-n", namespace, "--type=merge", "-p", other_model, check=False)
    assert result.returncode != 0
    assert "spec.model is immutable: create a new Rollout for another model" in result.stderr


def test_status_is_a_subresource(crds: LocalCluster, namespace: str) -> None:
    crds.kubectl("apply", "-n", namespace, "-f", str(EXAMPLES / "modelversion-2.4.0.yaml"))
    name = MV_240["metadata"]["name"]
    status = {
        "status": {
            "stage": "candidate",
            "rollout": "support-agent",
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "Serving",
                    "lastTransitionTime": "2025-01-01T00:00:00Z",
                }
            ],
        }
    }
    crds.kubectl("patch", "mv", name, "-n", namespace, "--subresource=status", "--type=merge", "-p", json.dumps(status))
    stored = ModelVersion.model_validate(_get(crds, namespace, "modelversions")[0])
    assert stored.status is not None and stored.status.stage == "candidate"
    assert stored.status.conditions[0].reason == "Serving"
    row = crds.kubectl("get", "mv", name, "-n", namespace, "--no-headers").stdout.split()
    assert row[1:4] == ["support-agent", "2.4.0", "candidate"]


# ---------------------------------------------------------------- semantic: validate_rollout


SEMANTIC: list[tuple[str, Json, list[Mutation], str]] = [
    (
        "target-not-found",
        CANARY,
        [set_path("spec.targetVersion", "support-agent-9-9-9")],
        "spec.targetVersion: ModelVersion 'support-agent-9-9-9' not found in namespace '{namespace}'",
    ),
    (
        "target-of-another-model",
        CANARY,
        [set_path("spec.targetVersion", "billing-agent-1-0-0")],
        "spec.targetVersion: ModelVersion 'billing-agent-1-0-0' belongs to model 'billing-agent', not 'support-agent'",
    ),
    (
        "target-in-development",
        CANARY,
        [set_path("spec.targetVersion", "support-agent-2-5-0")],
        "spec.targetVersion: ModelVersion 'support-agent-2-5-0' is in stage development and may not be rolled out",
    ),
    (
        "target-rejected",
        CANARY,
        [set_path("spec.targetVersion", "support-agent-2-3-1")],
        "spec.targetVersion: ModelVersion 'support-agent-2-3-1' was rejected (error rate 0.09 above 0.05)",
    ),
    (
        "variant-not-found",
        AB_TEST,
        [set_path("spec.strategy.abTest.variants.0.version", "support-agent-1-0-0")],
        "spec.strategy.abTest.variants[0].version: ModelVersion 'support-agent-1-0-0' not found in namespace",
    ),
    (
        "unbalanced-template",
        CANARY,
        [
            set_path("spec.analysis.metrics.3.ratio", None),
            set_path("spec.analysis.metrics.3.query", "sum(rate(x[{{window}}])) }}"),
        ],
        "spec.analysis.metrics[3].query: unbalanced '{{' or '}}'",
    ),
]


@pytest.fixture
def registry(crds: LocalCluster, namespace: str) -> str:
    """A namespace with ModelVersions in every situation SEMANTIC needs."""
    crds.kubectl("apply", "-n", namespace, "-f", str(EXAMPLES / "modelversion-2.4.0.yaml"))
    crds.kubectl("apply", "-n", namespace, "-f", str(EXAMPLES / "modelversion-2.3.1.yaml"))
    others = [
        _variant(
            MV_240,
            set_path("metadata.name", "billing-agent-1-0-0"),
            set_path("spec.model", "billing-agent"),
            set_path("spec.version", "1.0.0"),
            set_path("spec.parentVersion", None),
        ),
        _variant(
            MV_240,
            set_path("metadata.name", "support-agent-2-5-0"),
            set_path("spec.version", "2.5.0"),
            set_path("spec.stage", "development"),
        ),
    ]
    for body in others:
        crds.kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(body))
    rejected = json.dumps({"status": {"stage": "rejected", "reason": "error rate 0.09 above 0.05"}})
    crds.kubectl(
        "patch",
        "mv",
        "support-agent-2-3-1",
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        rejected,
    )
    return namespace


@pytest.mark.parametrize(
    ("body", "mutations", "expected"),
    [pytest.param(body, mutations, expected, id=name) for name, body, mutations, expected in SEMANTIC],
)
def test_semantic_problems_are_found_on_stored_objects(
    crds: LocalCluster, registry: str, body: Json, mutations: list[Mutation], expected: str
) -> None:
    # The API server accepts these: only other objects (or the renderer's rules) make them wrong.
    code, output = _create(crds, registry, _variant(body, *mutations))
    assert code == 0, output
    stored = Rollout.model_validate(_get(crds, registry, "rollouts")[0])
    versions = {item["metadata"]["name"]: ModelVersion.model_validate(item) for item in _get(crds, registry, "mv")}
    errors = validate_rollout(stored.spec, versions, registry)
    assert any(expected.replace("{namespace}", registry) in error for error in errors), errors
