"""The CLI's offline parts: which namespace a kubeconfig means, lint, when a watch is done, kopf's login."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelrollout.api.settings import OperatorSettings
from modelrollout.cli.lint import lint
from modelrollout.cli.target import Target, TargetError
from modelrollout.cli.watch import EXIT_FAILED, EXIT_HEALTHY, settled

ROOT = Path(__file__).resolve().parents[2]
MODELROLLOUT = Path(sys.executable).parent / "modelrollout"


def kubeconfig(path: Path, namespaces: dict[str, str | None], current: str) -> Path:
    contexts = []
    for name, namespace in namespaces.items():
        context: dict[str, Any] = {"cluster": "c", "user": "u"}
        if namespace:
            context["namespace"] = namespace
        contexts.append({"name": name, "context": context})
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
                "users": [{"name": "u", "user": {"token": "abc"}}],
                "contexts": contexts,
                "current-context": current,
            }
        )
    )
    return path


def test_namespace_comes_from_flag_then_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = str(kubeconfig(tmp_path / "config", {"dev": "team-a", "prod": None}, "dev"))
    assert Target(kubeconfig=config).resolve_namespace() == "team-a"
    assert Target(kubeconfig=config, context="prod").resolve_namespace() == "default"
    assert Target(kubeconfig=config, namespace="x").resolve_namespace() == "x"
    monkeypatch.setenv("KUBECONFIG", config)
    assert Target().resolve_namespace() == "team-a"
    with pytest.raises(TargetError, match='context "nope" not found'):
        Target(context="nope").resolve_namespace()
    # A subcommand's flags win over the group's.
    assert Target(namespace="group").merged(Target(namespace="command")).namespace == "command"
    assert Target(namespace="group").merged(Target()).namespace == "group"


def test_kopf_login_uses_the_kubeconfig_in_the_settings(tmp_path: Path) -> None:
    import kopf

    from modelrollout.handlers.login import login

    config = kubeconfig(tmp_path / "config", {"dev": None}, "dev")
    info = login(OperatorSettings(kubeconfig=str(config)), kopf.OperatorSettings(), None)
    assert info is not None
    assert (info.server, info.token) == ("https://127.0.0.1:6443", "abc")


MV = """
apiVersion: modelrollout.io/v1alpha1
kind: ModelVersion
metadata: {name: sa-2-4-0}
spec:
  model: support-agent
  version: 2.4.0
  stage: development
  template: {spec: {containers: [{name: s, image: x}, {name: s, image: y}]}}
"""
ROLLOUT = """
apiVersion: modelrollout.io/v1alpha1
kind: Rollout
metadata: {name: sa}
spec:
  model: support-agent
  targetVersion: sa-2-4-0
  strategy: {canary: {steps: [{setWeight: 10}, {analysis: {metrics: [nope]}}]}}
"""


def test_lint_reports_schema_and_semantic_problems(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(MV + "---" + ROLLOUT + "---\nkind: ConfigMap\nmetadata: {name: x}\n---\nkind: Rollout\nspec: {}\n")
    findings = {f.where.split(": ", 1)[1]: f for f in lint([path])}
    assert any("container name 's' is already used" in p for p in findings["ModelVersion/sa-2-4-0"].problems)
    rollout = findings["Rollout/sa"].problems
    assert any("nope" in p for p in rollout), rollout
    assert any("stage development" in p for p in rollout), rollout
    assert findings["ConfigMap/x"].ok
    assert any(p.startswith("spec.model:") for p in findings["Rollout/(document 4)"].problems)


def test_lint_command_exit_codes(tmp_path: Path) -> None:
    good = subprocess.run(
        [str(MODELROLLOUT), "lint", *sorted(str(p) for p in (ROOT / "examples").glob("*.yaml"))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert good.returncode == 0, good.stdout + good.stderr
    assert all(line.endswith(": ok") or "not checked" in line for line in good.stdout.splitlines())
    bad = tmp_path / "bad.yaml"
    bad.write_text(ROLLOUT)
    result = subprocess.run([str(MODELROLLOUT), "lint", str(bad)], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "not checked (not in the files): sa-2-4-0" not in result.stdout  # it has problems, not just a note
    assert "nope" in result.stdout
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: [")
    result = subprocess.run([str(MODELROLLOUT), "lint", str(broken)], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert (
        result.stdout
        == f"{broken}: not valid YAML at line 1, column 8: expected the node content, but found '<stream end>'\n"
    )


def rollout(generation: int, **status: Any) -> dict[str, Any]:
    return {"metadata": {"generation": generation}, "status": status}


def test_watch_is_done_only_when_the_operator_saw_the_latest_spec() -> None:
    assert settled(rollout(2, phase="Healthy", observedGeneration=2)) == EXIT_HEALTHY
    assert settled(rollout(3, phase="Healthy", observedGeneration=2)) is None
    assert settled(rollout(2, phase="Healthy", observedGeneration=2, candidateVersion="v2")) is None
    assert settled(rollout(2, phase="RolledBack", observedGeneration=2)) == EXIT_FAILED
    assert settled(rollout(2, phase="Degraded", observedGeneration=2)) == EXIT_FAILED
    assert settled(rollout(2, phase="Paused", observedGeneration=2)) is None
    assert settled(rollout(1)) is None


def test_no_kubeconfig_or_no_server_is_one_line_and_exit_1(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    missing = subprocess.run([str(MODELROLLOUT), "status", "x"], env=env, capture_output=True, text=True, check=False)
    assert missing.returncode == 1
    assert missing.stderr.startswith("Error: no usable kubeconfig") and missing.stderr.count("\n") == 1
    # A kubeconfig whose server refuses connections.
    config = kubeconfig(tmp_path / "config", {"dev": None}, "dev")
    config.write_text(config.read_text().replace("https://127.0.0.1:6443", "https://127.0.0.1:1"))
    unreachable = subprocess.run(
        [str(MODELROLLOUT), "--kubeconfig", str(config), "abort", "x"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert unreachable.returncode == 1
    assert unreachable.stderr.startswith("Error: cannot reach the API server") and unreachable.stderr.count("\n") == 1
