"""The Helm chart: lints, renders, and what it renders is accepted by the real API server and
grants the operator exactly what it uses."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from modelrollout.devenv import LocalCluster, ensure_binaries

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "modelrollout"


def helm(*args: str) -> str:
    binary = ensure_binaries(("helm",))["helm"]
    result = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_chart_lints() -> None:
    output = helm("lint", "--strict", str(CHART))
    assert "1 chart(s) linted, 0 chart(s) failed" in output


def test_chart_crds_match_generated_crds() -> None:
    for generated in (ROOT / "crds").glob("*.yaml"):
        assert (CHART / "crds" / generated.name).read_text() == generated.read_text(), "run make crds"


@pytest.fixture
def rendered(namespace: str) -> list[dict[str, object]]:
    text = helm(
        "template", "mr", str(CHART), "--namespace", namespace, "--include-crds", "--set", "watchNamespaces[0]=team-a"
    )
    return [doc for doc in yaml.safe_load_all(text) if doc]


def test_rendered_chart_applies_and_grants_the_operator_what_it_uses(
    crds: LocalCluster, namespace: str, rendered: list[dict[str, object]], tmp_path: Path
) -> None:
    kinds = sorted(str(doc["kind"]) for doc in rendered)
    assert kinds == sorted(
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "CustomResourceDefinition",
            "CustomResourceDefinition",
            "Deployment",
            "ServiceAccount",
        ]
    )
    deployment = next(doc for doc in rendered if doc["kind"] == "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]  # type: ignore[index]
    assert "--namespace=team-a" in args

    manifest = tmp_path / "chart.yaml"
    manifest.write_text(yaml.safe_dump_all(rendered))
    crds.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(manifest))
    crds.kubectl("rollout", "status", "deployment/mr", "-n", namespace, "--timeout=60s", timeout=90)

    account = f"system:serviceaccount:{namespace}:mr"
    allowed = [
        ("get", "rollouts.modelrollout.io"),
        ("watch", "rollouts.modelrollout.io"),
        ("update", "rollouts.modelrollout.io/status"),
        ("patch", "modelversions.modelrollout.io/status"),
        ("patch", "deployments.apps"),
        ("patch", "deployments.apps/scale"),
        ("delete", "deployments.apps"),  # retention: archived versions' Deployments
        ("create", "services"),
        ("create", "events"),
        ("get", "secrets"),
    ]
    for verb, resource in allowed:
        result = crds.kubectl("auth", "can-i", verb, resource, "--as", account, "-n", "default", check=False)
        assert result.stdout.strip() == "yes", f"{verb} {resource}: {result.stdout} {result.stderr}"
    # Never more than it needs: it does not delete the user's ModelVersions or anything else.
    for verb, resource in [
        ("delete", "modelversions.modelrollout.io"),
        ("delete", "services"),
        ("list", "secrets"),
        ("create", "pods"),
    ]:
        result = crds.kubectl("auth", "can-i", verb, resource, "--as", account, "-n", "default", check=False)
        assert result.stdout.strip() == "no", f"{verb} {resource} should be denied"
