"""The operator's trusted settings and the checks built on them: connections, pod policy, ownership."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modelrollout.api.modelversion import ModelVersion
from modelrollout.api.rollout import RolloutSpec
from modelrollout.api.settings import OperatorSettings, PodPolicy, PrometheusConnection
from modelrollout.core.connections import connection_problems
from modelrollout.core.observed import ChildObject, Controller
from modelrollout.core.ownership import ownership_conflicts
from modelrollout.core.pod_policy import pod_policy_violations, template_violations
from modelrollout.devenv.manifests import canary_rollout, model_version
from modelrollout.handlers.settings import SettingsError, load_settings

UID = "2d4c0a4e-0000-4000-8000-000000000001"


def spec_with(**analysis: Any) -> RolloutSpec:
    rollout = canary_rollout("chat", "chat-2-4-0", [{"setWeight": 50}])
    rollout["spec"]["analysis"] = {"metrics": [{"name": "error-rate", "preset": "errorRate"}], **analysis}
    return RolloutSpec.model_validate(rollout["spec"])


SETTINGS = OperatorSettings(
    prometheus_connections=[
        PrometheusConnection(name="default", address="http://prometheus:9090"),
        PrometheusConnection(name="team-b-only", address="http://b:9090", namespaces=["team-b"]),
    ]
)


# ---------------------------------------------------------------- loading


def test_settings_file_in_camel_case(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(
        "prometheusConnections:\n"
        "- name: main\n  address: https://prom.example:9090\n"
        "  bearerTokenSecret: {name: prom-token, key: token}\n"
        "defaultPrometheusConnection: main\n"
        "podPolicy: {allowedServiceAccounts: [model-server], allowHostPath: true}\n"
    )
    settings = load_settings(path, prometheus_url="http://ignored:9090", namespace="modelrollout-system")
    connection = settings.connection(None)
    assert connection is not None and connection.address == "https://prom.example:9090"
    assert connection.bearer_token_secret is not None and connection.bearer_token_secret.name == "prom-token"
    assert [c.name for c in settings.prometheus_connections] == ["main"]  # the file's default wins over the URL
    assert settings.namespace == "modelrollout-system"
    assert settings.pod_policy.allowed_service_accounts == ["model-server"] and settings.pod_policy.allow_host_path


def test_prometheus_url_is_a_shorthand_for_the_default_connection() -> None:
    settings = load_settings(prometheus_url="http://127.0.0.1:9090")
    connection = settings.connection(None)
    assert connection is not None and connection.name == "default" and connection.bearer_token_secret is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("prometheusConnections: [{name: a, address: 'http://a'}, {name: a, address: 'http://b'}]", "duplicate"),
        ("prometheusConnections: [{name: a, address: 'file:///etc/passwd'}]", "address"),
        ("podPolicy: {allowPrivileged: maybe}", "allowPrivileged"),
        ("prometheus: {address: 'http://a'}", "prometheus"),
        ("[not, a, mapping", "cannot read"),
    ],
)
def test_a_bad_settings_file_says_what_to_fix(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(text)
    with pytest.raises(SettingsError, match=fragment):
        load_settings(path)


# ---------------------------------------------------------------- connections


def test_a_rollout_cannot_carry_an_address_or_a_secret() -> None:
    with pytest.raises(ValueError, match="address"):
        spec_with(prometheus={"address": "http://169.254.169.254/"})
    with pytest.raises(ValueError, match="bearerTokenSecretRef"):
        spec_with(prometheus={"bearerTokenSecretRef": {"name": "admin-token", "key": "token"}})


def test_named_connections_are_checked_against_the_settings() -> None:
    assert connection_problems(spec_with(), SETTINGS, "team-a") == []
    assert connection_problems(spec_with(prometheus={"connection": "default"}), SETTINGS, "team-a") == []
    assert connection_problems(spec_with(prometheus={"connection": "team-b-only"}), SETTINGS, "team-b") == []
    [unknown] = connection_problems(spec_with(prometheus={"connection": "nope"}), SETTINGS, "team-a")
    assert "no Prometheus connection named 'nope'" in unknown and "available here: default" in unknown
    [foreign] = connection_problems(spec_with(prometheus={"connection": "team-b-only"}), SETTINGS, "team-a")
    assert "not available to namespace team-a" in foreign
    assert "http://b:9090" not in foreign  # addresses are the installer's business


# ---------------------------------------------------------------- pod policy


def version(name: str, **pod: Any) -> ModelVersion:
    manifest = model_version(name, "2.4.0", model="chat")
    manifest["spec"]["template"]["spec"].update(pod)
    return ModelVersion.model_validate(manifest)


def test_the_default_policy_refuses_privileged_and_host_access() -> None:
    container = {
        "name": "server",
        "image": "example/model:1",
        "securityContext": {"privileged": True},
        "ports": [{"containerPort": 8080, "hostPort": 80}],
    }
    bad = version(
        "chat-2-4-0",
        containers=[container],
        hostNetwork=True,
        hostPID=True,
        volumes=[{"name": "root", "hostPath": {"path": "/"}}],
    )
    problems = pod_policy_violations(spec_with(), {"chat-2-4-0": bad}, PodPolicy())
    text = "\n".join(problems)
    for fragment in ("privileged", "hostNetwork", "hostPID", "hostPort 80", "volumes[0] (root) is a hostPath"):
        assert fragment in text
    assert all(p.startswith("ModelVersion chat-2-4-0: ") for p in problems)
    assert pod_policy_violations(spec_with(), {"chat-2-4-0": bad}, PodPolicy(enforce=False)) == []


def test_service_accounts_are_limited_to_the_allowed_ones() -> None:
    policy = PodPolicy(allowed_service_accounts=["model-server"])
    assert template_violations({"serviceAccountName": "model-server", "containers": []}, policy) == []
    [problem] = template_violations({"serviceAccountName": "operator-admin", "containers": []}, policy)
    assert "'operator-admin' is not allowed" in problem and "allowedServiceAccounts" in problem
    [implicit] = template_violations({"containers": []}, policy)
    assert "'default'" in implicit


def test_an_ordinary_template_passes() -> None:
    assert pod_policy_violations(spec_with(), {"chat-2-4-0": version("chat-2-4-0")}, PodPolicy()) == []


# ---------------------------------------------------------------- ownership


def test_only_children_this_rollout_controls_are_accepted() -> None:
    mine = Controller(kind="Rollout", name="chat", uid=UID)
    assert ownership_conflicts([ChildObject("Service", "chat", mine)], UID, "team-a") == []
    [unowned] = ownership_conflicts([ChildObject("Service", "chat", None)], UID, "team-a")
    assert unowned.startswith("Service team-a/chat already exists and this Rollout did not create it")
    assert "no controlling owner" in unowned
    other = Controller(kind="Rollout", name="chat", uid="another-uid")
    [earlier] = ownership_conflicts([ChildObject("Deployment", "chat-2.4.0", other)], UID, "team-a")
    assert "another Rollout named chat (uid another-uid)" in earlier
    [foreign] = ownership_conflicts(
        [ChildObject("Service", "chat-canary", Controller(kind="Deployment", name="x", uid="u"))], UID, "team-a"
    )
    assert "controlled by Deployment x" in foreign
