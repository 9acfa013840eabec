"""A user who may only edit Rollouts and ModelVersions in one namespace gets nothing beyond that.

Each test is an attack from the security review, made as that user (impersonation through the admin
client) against the real API server and the real operator:
- Secret theft through the Prometheus connection (a token sent to an address of the user's choosing);
- takeover by name of a Service or Deployment the Rollout did not create, and its deletion with the Rollout;
- a ModelVersion pod template asking for privileges, host access or a powerful ServiceAccount.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from rollouts import Cluster, canary_rollout, model_version

from modelrollout.api.common import GROUP, VERSION
from modelrollout.devenv import LocalCluster
from modelrollout.devenv.operator import OperatorProcess

USER = "alice"
OPERATOR_TOKEN = "operator-token-" + uuid.uuid4().hex
ADMIN_TOKEN = "cluster-admin-token-" + uuid.uuid4().hex
EMPTY_VECTOR = json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}}).encode()


class Recorder:
    """A Prometheus stand-in on loopback that records every request's path and Authorization header."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._answer()

            def _answer(self) -> None:
                recorder.requests.append((self.path, self.headers.get("Authorization") or ""))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(EMPTY_VECTOR)))
                self.end_headers()
                self.wfile.write(EMPTY_VECTOR)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def authorizations(self) -> set[str]:
        return {auth for _, auth in self.requests}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorders() -> Iterator[dict[str, Recorder]]:
    made = {name: Recorder() for name in ("trusted", "elsewhere", "attacker")}
    yield made
    for recorder in made.values():
        recorder.close()


@pytest.fixture
def operator_namespace(api_client: client.ApiClient) -> Iterator[str]:
    """Where the operator runs: the only namespace it may read a Secret from."""
    core = client.CoreV1Api(api_client)
    name = f"modelrollout-system-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    core.create_namespaced_secret(name, secret("prometheus-token", OPERATOR_TOKEN))
    yield name
    core.delete_namespace(name)


@pytest.fixture
def admin_secret(api_client: client.ApiClient) -> Iterator[tuple[str, str]]:
    """A Secret the user must never see: (namespace, name)."""
    core = client.CoreV1Api(api_client)
    name = f"platform-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    core.create_namespaced_secret(name, secret("cluster-admin", ADMIN_TOKEN))
    yield name, "cluster-admin"
    core.delete_namespace(name)


def secret(name: str, token: str) -> client.V1Secret:
    return client.V1Secret(
        metadata=client.V1ObjectMeta(name=name), data={"token": base64.b64encode(token.encode()).decode()}
    )


@pytest.fixture
def user(crds: LocalCluster, api_client: client.ApiClient, namespace: str) -> Iterator[Cluster]:
    """The attacker: may edit Rollouts and ModelVersions in `namespace`, and nothing else."""
    rbac = client.RbacAuthorizationV1Api(api_client)
    rbac.create_namespaced_role(
        namespace,
        client.V1Role(
            metadata=client.V1ObjectMeta(name="rollout-editor"),
            rules=[
                client.V1PolicyRule(
                    api_groups=[GROUP],
                    resources=["rollouts", "modelversions"],
                    verbs=["get", "list", "watch", "create", "update", "patch", "delete"],
                )
            ],
        ),
    )
    rbac.create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="rollout-editor"),
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="rollout-editor"),
            subjects=[client.RbacV1Subject(kind="User", name=USER, api_group="rbac.authorization.k8s.io")],
        ),
    )
    impersonating = crds.api_client()
    impersonating.set_default_header("Impersonate-User", USER)
    yield Cluster(impersonating, namespace)
    impersonating.close()


@pytest.fixture
def secured_operator(
    crds: LocalCluster, namespace: str, operator_namespace: str, recorders: dict[str, Recorder], tmp_path: Path
) -> Iterator[OperatorProcess]:
    """The operator as the installer configured it: a default connection with a token, and one
    connection reserved for another namespace."""
    settings = {
        "namespace": operator_namespace,
        "prometheusConnections": [
            {
                "name": "default",
                "address": recorders["trusted"].url,
                "bearerTokenSecret": {"name": "prometheus-token", "key": "token"},
            },
            {"name": "team-b", "address": recorders["elsewhere"].url, "namespaces": ["team-b"]},
        ],
        "podPolicy": {"allowedServiceAccounts": ["default", "model-server"]},
    }
    process = OperatorProcess(
        crds.kubeconfig_path, tmp_path / "operator.log", namespaces=[namespace], settings=settings
    )
    yield process.start()
    process.stop()


def analysed_rollout(name: str, target: str, prometheus: dict[str, Any] | None = None) -> dict[str, Any]:
    analysis: dict[str, Any] = {"interval": "1s", "metrics": [{"name": "error-rate", "preset": "errorRate"}]}
    if prometheus is not None:
        analysis["prometheus"] = prometheus
    return canary_rollout(
        name, target, [{"setWeight": 50}, {"analysis": {"metrics": ["error-rate"]}}], analysis=analysis
    )


def invalid_message(kube: Cluster, name: str) -> str:
    status = kube.wait_status(
        name,
        f"{name} reported InvalidSpec",
        lambda s: any(c["type"] == "InvalidSpec" and c["status"] == "True" for c in s.get("conditions") or []),
    )
    return str(next(c for c in status["conditions"] if c["type"] == "InvalidSpec")["message"])


# ---------------------------------------------------------------------------------- secrets


def test_a_rollout_author_cannot_get_a_secret_or_choose_where_the_token_goes(
    user: Cluster,
    kube: Cluster,
    secured_operator: OperatorProcess,
    recorders: dict[str, Recorder],
    admin_secret: tuple[str, str],
    operator_namespace: str,
) -> None:
    secret_namespace, secret_name = admin_secret
    # The user cannot read either Secret directly.
    for where, name in ((secret_namespace, secret_name), (operator_namespace, "prometheus-token")):
        with pytest.raises(client.ApiException) as denied:
            user.core.read_namespaced_secret(name, where)
        assert denied.value.status == 403

    user.create(model_version("sa-2-3-1", "2.3.1"))
    # The attack of the review: the operator's credentials, or any Secret, sent to the user's server.
    # The API has no such fields any more; strict field validation (kubectl's default) refuses them.
    attack = analysed_rollout(
        "stolen",
        "sa-2-3-1",
        {"address": recorders["attacker"].url, "bearerTokenSecretRef": {"name": secret_name, "key": "token"}},
    )
    with pytest.raises(client.ApiException) as refused:
        user.custom.create_namespaced_custom_object(
            GROUP, VERSION, user.namespace, "rollouts", attack, field_validation="Strict"
        )
    assert refused.value.status in (400, 422) and "unknown field" in str(refused.value.body)
    # A client that does not ask for strict validation gets the fields dropped, not obeyed.
    user.create(attack)
    assert "address" not in (user.rollout("stolen")["spec"]["analysis"].get("prometheus") or {})

    # A connection reserved for another namespace is refused by name, before any query.
    user.create(analysed_rollout("borrowed", "sa-2-3-1", {"connection": "team-b"}))
    message = invalid_message(user, "borrowed")
    assert "connection 'team-b' is not available to namespace" in message
    assert recorders["elsewhere"].url not in message

    # The stripped Rollout runs on the installer's default connection: the token goes there only.
    user.create(model_version("sa-2-4-0", "2.4.0"))
    user.wait_status("stolen", "first version serving", lambda s: s.get("phase") == "Healthy")
    user.set_target("stolen", "sa-2-4-0")
    user.wait(lambda: recorders["trusted"].requests or None, "a query on the trusted connection", timeout=90)
    assert recorders["trusted"].authorizations() == {f"Bearer {OPERATOR_TOKEN}"}
    assert recorders["attacker"].requests == [] and recorders["elsewhere"].requests == []
    everything = json.dumps([user.rollout(name) for name in ("stolen", "borrowed")]) + "".join(
        kube.events("stolen") + kube.events("borrowed")
    )
    assert OPERATOR_TOKEN not in everything and ADMIN_TOKEN not in everything
    assert OPERATOR_TOKEN not in secured_operator.log_tail(400)


# ---------------------------------------------------------------------------------- takeover


def test_an_existing_service_survives_a_rollout_named_after_it(
    user: Cluster, kube: Cluster, secured_operator: OperatorProcess
) -> None:
    selector = {"app": "billing"}
    kube.core.create_namespaced_service(
        kube.namespace,
        client.V1Service(
            metadata=client.V1ObjectMeta(name="billing"),
            spec=client.V1ServiceSpec(selector=selector, ports=[client.V1ServicePort(port=80)]),
        ),
    )
    user.create(model_version("billing-2-3-1", "2.3.1", model="support-agent"))
    rollout = canary_rollout("billing", "billing-2-3-1", [{"setWeight": 50}])
    user.create(rollout)
    message = invalid_message(user, "billing")
    assert f"Service {kube.namespace}/billing already exists and this Rollout did not create it" in message
    assert "no controlling owner" in message

    service = kube.core.read_namespaced_service("billing", kube.namespace)
    assert dict(service.spec.selector) == selector
    assert not service.metadata.owner_references
    assert kube.deployment_names() == [], "nothing is created while a name is taken"

    # A child the Rollout does own shows when the garbage collector has processed its deletion.
    uid = user.rollout("billing")["metadata"]["uid"]
    owned = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(
            name="gc-sentinel",
            owner_references=[
                client.V1OwnerReference(
                    api_version=f"{GROUP}/{VERSION}", kind="Rollout", name="billing", uid=uid, controller=True
                )
            ],
        )
    )
    kube.core.create_namespaced_config_map(kube.namespace, owned)
    user.custom.delete_namespaced_custom_object(GROUP, VERSION, user.namespace, "rollouts", "billing")
    kube.wait(
        lambda: "gc-sentinel" not in configmap_names(kube) or None, "the garbage collector removed owned children"
    )
    assert dict(kube.core.read_namespaced_service("billing", kube.namespace).spec.selector) == selector


def configmap_names(kube: Cluster) -> set[str]:
    return {c.metadata.name for c in kube.core.list_namespaced_config_map(kube.namespace).items}


def test_an_unlabelled_deployment_of_the_same_name_is_not_adopted(
    user: Cluster, kube: Cluster, secured_operator: OperatorProcess
) -> None:
    labels = {"app": "hand-made"}
    kube.apps.create_namespaced_deployment(
        kube.namespace,
        client.V1Deployment(
            metadata=client.V1ObjectMeta(name="chat-2.3.1"),
            spec=client.V1DeploymentSpec(
                replicas=0,
                selector=client.V1LabelSelector(match_labels=labels),
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels=labels),
                    spec=client.V1PodSpec(containers=[client.V1Container(name="app", image="example.com/app:1")]),
                ),
            ),
        ),
    )
    user.create(model_version("chat-2-3-1", "2.3.1"))
    user.create(canary_rollout("chat", "chat-2-3-1", [{"setWeight": 50}]))
    message = invalid_message(user, "chat")
    assert f"Deployment {kube.namespace}/chat-2.3.1 already exists and this Rollout did not create it" in message
    deployment = kube.apps.read_namespaced_deployment("chat-2.3.1", kube.namespace)
    assert deployment.spec.template.spec.containers[0].image == "example.com/app:1"
    assert not deployment.metadata.owner_references
    assert kube.service_names() == []


# ---------------------------------------------------------------------------------- pod policy


def test_pod_templates_outside_the_policy_never_become_deployments(
    user: Cluster, kube: Cluster, secured_operator: OperatorProcess
) -> None:
    privileged = model_version("sa-2-3-1", "2.3.1")
    pod = privileged["spec"]["template"]["spec"]
    pod["containers"][0]["securityContext"] = {"privileged": True}
    pod["hostNetwork"] = True
    pod["volumes"] = [{"name": "host", "hostPath": {"path": "/"}}]
    user.create(privileged)
    user.create(canary_rollout("escalate", "sa-2-3-1", [{"setWeight": 50}]))
    message = invalid_message(user, "escalate")
    for fragment in ("securityContext.privileged", "hostNetwork", "hostPath"):
        assert fragment in message

    powerful = model_version("sa-2-4-0", "2.4.0")
    powerful["spec"]["template"]["spec"]["serviceAccountName"] = "namespace-admin"
    user.create(powerful)
    user.create(canary_rollout("borrow-account", "sa-2-4-0", [{"setWeight": 50}]))
    assert "'namespace-admin' is not allowed" in invalid_message(user, "borrow-account")
    assert kube.deployment_names() == [] and kube.service_names() == []

    kube.core.create_namespaced_service_account(
        kube.namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="model-server"))
    )
    allowed = model_version("sa-2-5-0", "2.5.0")
    allowed["spec"]["template"]["spec"]["serviceAccountName"] = "model-server"
    user.create(allowed)
    user.create(canary_rollout("fine", "sa-2-5-0", [{"setWeight": 50}]))
    user.wait_status("fine", "an allowed template is served", lambda s: s.get("phase") == "Healthy", timeout=90)
