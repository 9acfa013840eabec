"""`modelrollout lint FILE...`: the checks the API server and the operator would make, offline.

The schema is the pydantic model the CRD is generated from; the semantic validator is the one the
operator runs (api.validation). ModelVersions a Rollout names are checked when they are in the
given files; in the cluster they may exist already, so a missing one is only noted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from modelrollout.api.modelversion import ModelVersion
from modelrollout.api.rollout import Rollout
from modelrollout.api.validation import validate_model_version, validate_rollout


@dataclass(frozen=True)
class Finding:
    where: str  # "file: Kind/name"
    problems: tuple[str, ...]
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def _schema_problems(error: ValidationError) -> tuple[str, ...]:
    return tuple(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"not valid YAML{where}: {getattr(error, 'problem', None) or error}"


def _documents(paths: Iterable[Path], findings: list[Finding]) -> list[tuple[Path, int, Any]]:
    documents: list[tuple[Path, int, Any]] = []
    for path in paths:
        try:
            loaded = list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError as error:
            findings.append(Finding(str(path), (_yaml_problem(error),)))
            continue
        documents += [(path, index, document) for index, document in enumerate(loaded) if document is not None]
    return documents


def lint(paths: Iterable[Path]) -> list[Finding]:
    """A finding per ModelVersion and Rollout in `paths` (YAML, several documents per file allowed).

    Raises OSError when a file cannot be read.
    """
    findings: list[Finding] = []
    documents = _documents(paths, findings)
    versions: dict[tuple[str, str], ModelVersion] = {}
    rollouts: list[tuple[str, str, Any]] = []
    for path, index, document in documents:
        if not isinstance(document, dict):
            findings.append(Finding(f"{path} (document {index + 1})", ("not a YAML mapping",)))
            continue
        kind = document.get("kind")
        meta = document.get("metadata") or {}
        name = meta.get("name", f"(document {index + 1})")
        namespace = meta.get("namespace") or "default"
        where = f"{path}: {kind}/{name}"
        if kind == "ModelVersion":
            try:
                version = ModelVersion.model_validate(document)
            except ValidationError as error:
                findings.append(Finding(where, _schema_problems(error)))
                continue
            versions[(namespace, name)] = version
            findings.append(Finding(where, tuple(validate_model_version(version.spec))))
        elif kind == "Rollout":
            rollouts.append((where, namespace, document))
        else:
            findings.append(Finding(where, (), note="skipped: not a ModelRollout kind"))
    for where, namespace, document in rollouts:
        try:
            rollout = Rollout.model_validate(document)
        except ValidationError as error:
            findings.append(Finding(where, _schema_problems(error)))
            continue
        known = {name: v for (ns, name), v in versions.items() if ns == namespace}
        problems = validate_rollout(rollout.spec, known, namespace)
        missing = [v for v in _referenced(rollout) if v not in known]
        # Not in the files is not an error offline: it may exist in the cluster.
        problems = [p for p in problems if not any(f"ModelVersion {v!r} not found" in p for v in missing)]
        note = f"not checked (not in the files): {', '.join(missing)}" if missing else ""
        findings.append(Finding(where, tuple(problems), note=note))
    return findings


def _referenced(rollout: Rollout) -> list[str]:
    names = [rollout.spec.target_version]
    ab_test = rollout.spec.strategy.ab_test
    if ab_test is not None:
        names += [variant.version for variant in ab_test.variants if variant.version not in names]
    return names
