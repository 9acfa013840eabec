"""The checked-in CRDs are what the models generate, they are structural, and the examples fit them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from modelrollout.api.crd import CHART_CRD_DIR, RESOURCES, Resource, crd, render, write
from modelrollout.api.modelversion import ModelVersion
from modelrollout.api.rollout import Rollout
from modelrollout.api.validation import validate_model_version, validate_rollout

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
MODELS: dict[str, type[BaseModel]] = {"ModelVersion": ModelVersion, "Rollout": Rollout}


def _resource_id(resource: Resource) -> str:
    return resource.kind


@pytest.mark.parametrize("resource", RESOURCES, ids=_resource_id)
def test_checked_in_crd_is_fresh(resource: Resource) -> None:
    checked_in = (ROOT / "crds" / resource.file_name).read_text(encoding="utf-8")
    assert checked_in == render(resource), f"crds/{resource.file_name} is stale: run make crds"


@pytest.mark.parametrize("resource", RESOURCES, ids=_resource_id)
def test_chart_carries_the_same_crd(resource: Resource) -> None:
    chart_copy = (ROOT / CHART_CRD_DIR / resource.file_name).read_text(encoding="utf-8")
    assert chart_copy == (ROOT / "crds" / resource.file_name).read_text(encoding="utf-8"), (
        f"{CHART_CRD_DIR}/{resource.file_name} differs from crds/: run make crds"
    )


def test_write_creates_both_copies(tmp_path: Path) -> None:
    written = write(tmp_path / "crds", tmp_path / "chart")
    assert sorted(path.relative_to(tmp_path).as_posix() for path in written) == [
        "chart/modelversion.yaml",
        "chart/rollout.yaml",
        "crds/modelversion.yaml",
        "crds/rollout.yaml",
    ]


def _nodes(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node with its path."""
    if not isinstance(node, dict):
        return
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from _nodes(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from _nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _nodes(node["additionalProperties"], f"{path}{{}}")


@pytest.mark.parametrize("resource", RESOURCES, ids=_resource_id)
def test_schema_is_structural(resource: Resource) -> None:
    schema = crd(resource)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _nodes(schema):
        assert "type" in node or node.get("x-kubernetes-preserve-unknown-fields"), f"{path}: no type"
        for key in ("$ref", "$defs", "anyOf", "allOf", "oneOf", "const", "title", "examples"):
            assert key not in node, f"{path}: {key} is not allowed in a structural schema"
        for key in ("exclusiveMinimum", "exclusiveMaximum"):
            assert node.get(key, True) is True, f"{path}: {key} must be boolean (OpenAPI 3.0)"
        assert node.get("additionalProperties", {}) is not True, f"{path}: use preserve-unknown-fields"
        if node.get("x-kubernetes-list-type") == "map":
            required = node["items"].get("required", [])
            assert set(node["x-kubernetes-list-map-keys"]) <= set(required), f"{path}: map keys must be required"
        for validation in node.get("x-kubernetes-validations", []):
            assert validation.get("message"), f"{path}: rule {validation['rule']!r} has no message"
        if node.get("type") == "array":
            assert "maxItems" in node or path.startswith(".status"), f"{path}: spec lists need maxItems (CEL cost)"


def test_printer_columns_and_names() -> None:
    by_kind = {resource.kind: crd(resource)["spec"] for resource in RESOURCES}
    rollout, model_version = by_kind["Rollout"], by_kind["ModelVersion"]
    assert rollout["names"]["shortNames"] == ["mro"]
    assert model_version["names"]["shortNames"] == ["mv"]
    for spec in (rollout, model_version):
        assert spec["names"]["categories"] == ["modelrollout"]
        assert spec["scope"] == "Namespaced"
        assert spec["versions"][0]["subresources"] == {"status": {}}

    def default_columns(spec: dict[str, Any]) -> list[str]:
        return [
            column["name"] for column in spec["versions"][0]["additionalPrinterColumns"] if "priority" not in column
        ]

    assert default_columns(rollout) == ["Phase", "Stable", "Candidate", "Weight", "Step", "Age"]
    assert default_columns(model_version) == ["Model", "Version", "Stage", "Errors", "P95-ms", "Quality", "Age"]


def test_descriptions_come_from_the_models() -> None:
    schema = crd(RESOURCES[1])["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    steps = schema["properties"]["spec"]["properties"]["strategy"]["properties"]["canary"]["properties"]["steps"]
    assert steps["description"].startswith("Ordered steps; the candidate is promoted after the last.")
    assert steps["items"]["description"] == "One canary step: exactly one of setWeight, pause, analysis or shadow."
    preset = schema["properties"]["spec"]["properties"]["analysis"]["properties"]["metrics"]["items"]["properties"][
        "preset"
    ]
    assert "errorRate" in preset["enum"]


# ---------------------------------------------------------------- examples


def _contained(part: Any, whole: Any) -> bool:
    """Whether every value of `part` is in `whole` (which may add defaults)."""
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(key in whole and _contained(part[key], whole[key]) for key in part)
    if isinstance(part, list):
        return (
            isinstance(whole, list)
            and len(part) == len(whole)
            and all(_contained(item, other) for item, other in zip(part, whole, strict=True))
        )
    return bool(part == whole)


def _documents(path: Path) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text(encoding="utf-8")) if document]


def test_there_is_an_example_of_each_strategy() -> None:
    names = {path.name for path in EXAMPLES}
    assert {"rollout-canary.yaml", "rollout-bluegreen.yaml", "rollout-abtest.yaml"} <= names
    assert {"rollout-canary-gatewayapi.yaml", "rollout-canary-userhash.yaml"} <= names, "one Rollout per router"
    assert {"modelversion-2.3.1.yaml", "modelversion-2.4.0.yaml"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_round_trips_through_the_models(path: Path) -> None:
    for document in _documents(path):
        model = MODELS[document["kind"]]
        parsed = model.model_validate(document)
        dumped = parsed.model_dump(by_alias=True, exclude_none=True)
        assert model.model_validate(dumped) == parsed
        assert _contained(document["spec"], dumped["spec"]), "a field of the example was renamed or dropped"


def test_examples_are_semantically_valid() -> None:
    documents = [document for path in EXAMPLES for document in _documents(path)]
    versions = {
        document["metadata"]["name"]: ModelVersion.model_validate(document)
        for document in documents
        if document["kind"] == "ModelVersion"
    }
    for version in versions.values():
        assert validate_model_version(version.spec) == []
    rollouts = [Rollout.model_validate(document) for document in documents if document["kind"] == "Rollout"]
    assert len(rollouts) == 6
    for rollout in rollouts:
        assert validate_rollout(rollout.spec, versions, "default") == [], rollout.metadata["name"]
