"""Semantic validation: what the CRD schema cannot check, as pure functions returning messages.

The API server already enforces the CEL rules of the CRD; these functions repeat the cheap ones
(pydantic does not run CEL, and objects may come from elsewhere, e.g. tests or an older CRD) and
add what needs other objects: the ModelVersions a Rollout names. An empty list means valid; each
message starts with the field path and says what is wrong and what would be right.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from modelrollout.api.abtest import AB_PRESETS
from modelrollout.api.modelversion import ModelVersion, ModelVersionSpec
from modelrollout.api.presets import PRESETS, TEMPLATE_VARIABLES
from modelrollout.api.rollout import (
    SHADOW_NEEDS_MIRROR,
    ABTestStrategy,
    AnalysisSpec,
    CanaryStrategy,
    MetricSpec,
    RolloutSpec,
    Strategy,
    TrafficRouting,
)

# Placeholders as modelrollout.analysis.templates reads them: anything in double braces, trimmed.
_TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_THRESHOLDS = {
    "max": "max",
    "min": "min",
    "max_ratio_to_baseline": "maxRatioToBaseline",
    "min_ratio_to_baseline": "minRatioToBaseline",
}


def _names(values: Sequence[str]) -> str:
    return ", ".join(values) if values else "none"


# ---------------------------------------------------------------- ModelVersion


def validate_model_version(spec: ModelVersionSpec) -> list[str]:
    """Problems of a ModelVersion spec on its own (empty when valid)."""
    errors: list[str] = []
    if spec.parent_version is not None and spec.parent_version == spec.version:
        errors.append(
            f"spec.parentVersion: must differ from spec.version {spec.version!r};"
            " it names the version this one was derived from"
        )
    seen: dict[str, int] = {}
    for index, container in enumerate(spec.template.spec.containers):
        if container.name in seen:
            errors.append(
                f"spec.template.spec.containers[{index}].name: container name {container.name!r} is already"
                f" used by containers[{seen[container.name]}]; container names must be unique"
            )
        seen.setdefault(container.name, index)
    return errors


def version_problems(
    field: str, name: str, model: str, versions: Mapping[str, ModelVersion], namespace: str
) -> list[str]:
    """Why ModelVersion `name` cannot be rolled out as `model` (empty when it can)."""
    found = versions.get(name)
    if found is None:
        return [f"{field}: ModelVersion {name!r} not found in namespace {namespace!r}"]
    errors: list[str] = []
    if found.spec.model != model:
        errors.append(
            f"{field}: ModelVersion {name!r} belongs to model {found.spec.model!r}, not {model!r};"
            f" name a ModelVersion of {model!r}"
        )
    if found.spec.stage == "development":
        errors.append(
            f"{field}: ModelVersion {name!r} is in stage development and may not be rolled out;"
            " set its spec.stage to staging when it is ready"
        )
    status = found.status
    if status is not None and status.stage == "rejected":
        reason = f" ({status.reason})" if status.reason else ""
        errors.append(
            f"{field}: ModelVersion {name!r} was rejected{reason}; create a fixed ModelVersion and target that instead"
        )
    return errors


# ---------------------------------------------------------------- Rollout


def validate_rollout(spec: RolloutSpec, model_versions: Mapping[str, ModelVersion], namespace: str) -> list[str]:
    """Problems of a Rollout spec given the ModelVersions of its namespace, by name (empty when valid)."""
    errors = _strategy_shape(spec.strategy)
    defined = _metric_definitions(spec.analysis, errors)
    errors += _metric_references(spec.strategy, defined)
    if spec.strategy.ab_test is not None:
        errors += _ab_test_metrics(spec.strategy.ab_test, spec.analysis)
        if spec.target_version not in {variant.version for variant in spec.strategy.ab_test.variants}:
            errors.append(
                "spec.targetVersion must be one of spec.strategy.abTest.variants: the test starts when it changes"
            )
    errors += version_problems("spec.targetVersion", spec.target_version, spec.model, model_versions, namespace)
    if spec.strategy.ab_test is not None:
        for index, variant in enumerate(spec.strategy.ab_test.variants):
            if variant.version == spec.target_version:
                continue  # already reported as spec.targetVersion
            errors += version_problems(
                f"spec.strategy.abTest.variants[{index}].version",
                variant.version,
                spec.model,
                model_versions,
                namespace,
            )
    return errors


def _strategy_shape(strategy: Strategy) -> list[str]:
    chosen = [
        name
        for name, value in (
            ("blueGreen", strategy.blue_green),
            ("canary", strategy.canary),
            ("abTest", strategy.ab_test),
        )
        if value is not None
    ]
    if len(chosen) != 1:
        return [f"spec.strategy: set exactly one strategy: blueGreen, canary or abTest (found: {_names(chosen)})"]
    if strategy.canary is not None:
        return _canary_shape(strategy.canary)
    if strategy.ab_test is not None:
        return _ab_test_shape(strategy.ab_test)
    return []


def _routing_shape(path: str, routing: TrafficRouting | None) -> list[str]:
    if routing is None:
        return []
    routers = [
        name
        for name, value in (
            ("replicas", routing.replicas),
            ("gatewayAPI", routing.gateway_api),
            ("userHash", routing.user_hash),
        )
        if value is not None
    ]
    if len(routers) > 1:
        return [f"{path}: set at most one traffic router: replicas, gatewayAPI or userHash (found: {_names(routers)})"]
    return []


def _canary_shape(canary: CanaryStrategy) -> list[str]:
    routing = canary.traffic_routing
    errors = _routing_shape("spec.strategy.canary.trafficRouting", routing)
    for index, step in enumerate(canary.steps):
        kinds = [
            name
            for name, value in (
                ("setWeight", step.set_weight),
                ("pause", step.pause),
                ("analysis", step.analysis),
                ("shadow", step.shadow),
            )
            if value is not None
        ]
        if len(kinds) != 1:
            errors.append(
                f"spec.strategy.canary.steps[{index}]: set exactly one of setWeight, pause, analysis or shadow"
                f" (found: {_names(kinds)}); split a combined step in two"
            )
    if any(step.shadow is not None for step in canary.steps) and (routing is None or routing.gateway_api is None):
        errors.append(f"spec.strategy.canary.steps: {SHADOW_NEEDS_MIRROR}")
    return errors


def _ab_test_shape(ab_test: ABTestStrategy) -> list[str]:
    errors = _routing_shape("spec.strategy.abTest.trafficRouting", ab_test.traffic_routing)
    total = sum(variant.weight for variant in ab_test.variants)
    if total != 100:
        errors.append(f"spec.strategy.abTest.variants: weights must sum to 100, not {total}")
    first: dict[str, int] = {}
    for index, variant in enumerate(ab_test.variants):
        if variant.version in first:
            errors.append(
                f"spec.strategy.abTest.variants[{index}].version: ModelVersion {variant.version!r} is already"
                f" variants[{first[variant.version]}]; each variant needs a different version"
            )
        first.setdefault(variant.version, index)
    return errors


def _ab_test_metrics(ab_test: ABTestStrategy, analysis: AnalysisSpec | None) -> list[str]:
    """A/B tests compare presets with a per-request distribution; at least one metric picks the winner."""
    errors: list[str] = []
    if ab_test.metrics and all(metric.guardrail for metric in ab_test.metrics):
        errors.append(
            "spec.strategy.abTest.metrics: every metric is a guardrail; at least one must pick the winner"
            " (set guardrail: false on it)"
        )
    definitions = {metric.name: metric for metric in (analysis.metrics if analysis else [])}
    supported = ", ".join(sorted(AB_PRESETS))
    for index, metric in enumerate(ab_test.metrics):
        definition = definitions.get(metric.name)
        if definition is None:
            continue  # reported as an undefined reference
        if definition.query is not None or definition.preset not in AB_PRESETS:
            what = "a custom query" if definition.query is not None else f"preset {definition.preset}"
            errors.append(
                f"spec.strategy.abTest.metrics[{index}]: metric {metric.name!r} uses {what}, which has no"
                f" per-request counts to compare; A/B tests compare the presets {supported}"
            )
    return errors


def _metric_definitions(analysis: AnalysisSpec | None, errors: list[str]) -> list[str]:
    """Names of the defined metrics, in order; appends every problem of the definitions to errors."""
    if analysis is None:
        return []
    names: list[str] = []
    for index, metric in enumerate(analysis.metrics):
        path = f"spec.analysis.metrics[{index}]"
        if metric.name in names:
            errors.append(
                f"{path}.name: metric {metric.name!r} is already defined at"
                f" spec.analysis.metrics[{names.index(metric.name)}]; metric names must be unique"
            )
        names.append(metric.name)
        errors += metric_problems(path, metric)
    return list(dict.fromkeys(names))


def metric_problems(path: str, metric: MetricSpec) -> list[str]:
    """Problems of one metric definition at `path` (e.g. spec.analysis.metrics[0])."""
    errors: list[str] = []
    thresholds = [alias for field, alias in _THRESHOLDS.items() if getattr(metric, field) is not None]
    if len(thresholds) > 1:
        errors.append(
            f"{path}: set at most one threshold: max, min, maxRatioToBaseline or minRatioToBaseline"
            f" (found: {_names(thresholds)})"
        )
    sources = [name for name in ("preset", "query", "ratio") if getattr(metric, name) is not None]
    if len(sources) > 1:
        errors.append(
            f"{path}: set one of preset, query or ratio (found: {_names(sources)}): a preset brings its own query"
            " (to change the query, remove preset and give the query or ratio a threshold)"
        )
    elif not sources:
        errors.append(
            f"{path}: set preset (a built-in metric), query (a PromQL template with one threshold)"
            " or ratio (numerator and denominator count queries with one threshold)"
        )
    elif metric.preset is None and not thresholds:
        errors.append(
            f"{path}: a metric with a query or a ratio needs a threshold:"
            " max, min, maxRatioToBaseline or minRatioToBaseline"
        )
    if metric.preset is not None and metric.preset not in PRESETS:
        errors.append(f"{path}.preset: unknown preset {metric.preset!r}; known presets: {_names(sorted(PRESETS))}")
    if metric.query is not None:
        errors += _template_problems(f"{path}.query", metric.query)
    if metric.ratio is not None:
        errors += _template_problems(f"{path}.ratio.numerator", metric.ratio.numerator)
        errors += _template_problems(f"{path}.ratio.denominator", metric.ratio.denominator)
    return errors


def _template_problems(path: str, query: str) -> list[str]:
    known = ", ".join(f"{{{{{name}}}}}" for name in sorted(TEMPLATE_VARIABLES))
    leftover = _TEMPLATE.sub("", query)
    if "{{" in leftover or "}}" in leftover:
        return [f"{path}: unbalanced '{{{{' or '}}}}'; write variables as {{{{name}}}}, one of {known}"]
    unknown = [
        match.group(0) for match in _TEMPLATE.finditer(query) if match.group(1).strip() not in TEMPLATE_VARIABLES
    ]
    if unknown:
        listed = ", ".join(dict.fromkeys(unknown))
        return [f"{path}: unknown template variable {listed}; the variables are {known}"]
    return []


def _metric_references(strategy: Strategy, defined: Sequence[str]) -> list[str]:
    """Every metric name a strategy uses must be defined in spec.analysis.metrics."""
    uses: list[tuple[str, Sequence[str]]] = []
    if strategy.canary is not None:
        uses += [
            (f"spec.strategy.canary.steps[{index}].analysis.metrics", step.analysis.metrics)
            for index, step in enumerate(strategy.canary.steps)
            if step.analysis is not None
        ]
    if strategy.blue_green is not None:
        uses.append(("spec.strategy.blueGreen.prePromotionAnalysis", strategy.blue_green.pre_promotion_analysis))
        uses.append(("spec.strategy.blueGreen.postPromotionAnalysis", strategy.blue_green.post_promotion_analysis))
    if strategy.ab_test is not None:
        uses.append(("spec.strategy.abTest.metrics", [metric.name for metric in strategy.ab_test.metrics]))
    errors: list[str] = []
    for path, names in uses:
        for name in dict.fromkeys(names):
            if name not in defined:
                errors.append(
                    f"{path}: metric {name!r} is not defined in spec.analysis.metrics"
                    f" (defined: {_names(list(defined))}); define it there or remove it here"
                )
    return errors
