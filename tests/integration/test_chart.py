"""The Helm chart: lints, renders what its values say, installs twice into the real API server, and
grants the operator exactly what it uses.

The operator tests run `modelrollout run` with a kubeconfig holding only a token of the chart's
ServiceAccount, drive a canary, a blue-green, an abort and a Prometheus analysis through it, and
read the API server's audit log for any request RBAC refused.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from rollouts import Cluster, bluegreen_rollout, canary_rollout, model_version

from modelrollout.devenv import LocalCluster, LocalPrometheus, ensure_binaries, wait_until
from modelrollout.devenv.operator import OperatorProcess
from modelrollout.handlers.settings import load_settings
from modelrollout.sim import SimulatorFleet

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "modelrollout"
TOKEN_SECRET = "prometheus-token"
API_SERVER_ADDRESS = "192.0.2.10"

Manifest = dict[str, Any]


def helm(*args: str, cluster: LocalCluster | None = None) -> str:
    binary = ensure_binaries(("helm",))["helm"]
    argv = [str(binary), *args]
    if cluster is not None:
        argv.append(f"--kubeconfig={cluster.kubeconfig_path}")
    result = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def render(
    namespace: str = "ops", *sets: str, values: dict[str, Any] | None = None, tmp: Path | None = None
) -> list[Manifest]:
    args = ["template", "mr", str(CHART), "--namespace", namespace]
    for assignment in sets:
        args += ["--set", assignment]
    if values is not None:
        assert tmp is not None
        path = tmp / f"values-{secrets.token_hex(3)}.yaml"
        path.write_text(yaml.safe_dump(values))
        args += ["-f", str(path)]
    return [doc for doc in yaml.safe_load_all(helm(*args)) if doc]


def of_kind(docs: list[Manifest], *kinds: str) -> list[Manifest]:
    return [doc for doc in docs if doc["kind"] in kinds]


def rules_on(docs: list[Manifest], resource: str) -> list[tuple[str, str | None, Manifest]]:
    """(kind, namespace, rule) of every RBAC rule that names `resource`."""
    return [
        (doc["kind"], doc["metadata"].get("namespace"), rule)
        for doc in of_kind(docs, "Role", "ClusterRole")
        for rule in doc.get("rules", [])
        if resource in rule["resources"]
    ]


def connections(address: str, *secret_names: str) -> dict[str, Any]:
    """Values with one Prometheus connection per Secret name (the first is the default)."""
    listed = [
        {"name": f"prom-{index}", "address": address, "bearerTokenSecret": {"name": name, "key": "token"}}
        for index, name in enumerate(secret_names)
    ]
    return {"prometheus": {"connections": listed, "defaultConnection": "prom-0"}}


# ------------------------------------------------------------------------------ rendering


def test_chart_lints_with_defaults_and_with_every_option() -> None:
    assert "1 chart(s) linted, 0 chart(s) failed" in helm("lint", "--strict", str(CHART))
    every_option = [
        "watchNamespaces={team-a,team-b}",
        "metrics.serviceMonitor.enabled=true",
        "dashboards.enabled=true",
        "networkPolicy.enabled=true",
        "networkPolicy.apiServer.cidrs={10.0.0.1/32}",
        "networkPolicy.apiServer.ports={6443}",
        "logLevel=debug",
        "image.digest=sha256:" + "0" * 64,
        "imagePullSecrets[0].name=regcred",
        "priorityClassName=system-cluster-critical",
        "podAnnotations.example\\.com/team=ml",
        "extraEnv[0].name=HTTPS_PROXY",
        "extraEnv[0].value=http://proxy:3128",
    ]
    output = helm("lint", "--strict", str(CHART), *[arg for item in every_option for arg in ("--set", item)])
    assert "1 chart(s) linted, 0 chart(s) failed" in output


def test_chart_crds_match_generated_crds() -> None:
    for generated in (ROOT / "crds").glob("*.yaml"):
        assert (CHART / "files" / "crds" / generated.name).read_text() == generated.read_text(), "run make crds"


def test_values_become_the_operators_settings_file(tmp_path: Path) -> None:
    values = connections("https://prometheus.monitoring:9090", TOKEN_SECRET) | {
        "podPolicy": {"allowedServiceAccounts": ["model-server"], "allowHostPath": True}
    }
    docs = render(values=values, tmp=tmp_path)
    settings_map = next(doc for doc in of_kind(docs, "ConfigMap") if doc["metadata"]["name"] == "mr-settings")
    path = tmp_path / "settings.yaml"
    path.write_text(settings_map["data"]["settings.yaml"])
    settings = load_settings(path, namespace="ops")
    connection = settings.connection(None)
    assert connection is not None and connection.address == "https://prometheus.monitoring:9090"
    assert connection.bearer_token_secret is not None and connection.bearer_token_secret.name == TOKEN_SECRET
    assert settings.pod_policy.allowed_service_accounts == ["model-server"]
    assert settings.pod_policy.allow_host_path and not settings.pod_policy.allow_privileged

    deployment = of_kind(docs, "Deployment")[0]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert "--settings=/etc/modelrollout/settings.yaml" in container["args"]
    assert "--metrics-port=9102" in container["args"]
    assert {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}} in container["env"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert deployment["spec"]["template"]["metadata"]["annotations"]["checksum/settings"]


def test_two_replicas_by_default_elect_a_leader_and_one_runs_alone(tmp_path: Path) -> None:
    def settings_of(docs: list[Manifest]) -> Any:
        settings_map = next(doc for doc in of_kind(docs, "ConfigMap") if doc["metadata"]["name"] == "mr-settings")
        path = tmp_path / f"settings-{secrets.token_hex(3)}.yaml"
        path.write_text(settings_map["data"]["settings.yaml"])
        return load_settings(path, namespace="ops")

    default = render()
    deployment = of_kind(default, "Deployment")[0]
    assert deployment["spec"]["replicas"] == 2 and deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert settings_of(default).leader_election.enabled
    assert [rule["resources"] for _, _, rule in rules_on(default, "leases")] == [["leases"]]
    assert of_kind(default, "PodDisruptionBudget")[0]["spec"]["maxUnavailable"] == 1
    affinity = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    assert affinity["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]["topologyKey"]

    single = render("ops", "replicaCount=1")
    assert of_kind(single, "Deployment")[0]["spec"]["strategy"]["type"] == "Recreate"
    assert not settings_of(single).leader_election.enabled
    assert rules_on(single, "leases") == [] and of_kind(single, "PodDisruptionBudget") == []


@pytest.mark.parametrize(
    ("assignment", "complaint"),
    [
        ("logLevel=trace", "/logLevel"),
        ("prometheus.connections[0].bearerTokenSecretRef.name=token", "'bearerTokenSecretRef' not allowed"),
        ("prometheus.connections[0].address=prometheus:9090", "/prometheus/connections/0/address"),
        ("podPolicy.allowPrivilegedContainers=true", "'allowPrivilegedContainers' not allowed"),
    ],
)
def test_values_schema_refuses_what_the_operator_would_crash_on(assignment: str, complaint: str) -> None:
    binary = ensure_binaries(("helm",))["helm"]
    argv = [str(binary), "template", "mr", str(CHART), "--set", "prometheus.connections[0].name=default"]
    if "address" not in assignment:
        argv += ["--set", "prometheus.connections[0].address=http://prometheus:9090"]
    result = subprocess.run([*argv, "--set", assignment], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode != 0 and complaint in result.stderr, result.stderr


def test_secrets_only_those_the_connections_name_in_the_release_namespace(tmp_path: Path) -> None:
    # No connection with a token: no Secret rule anywhere.
    assert rules_on(render(), "secrets") == []
    assert rules_on(render("ops", "watchNamespaces={team-a}"), "secrets") == []

    values = connections("http://prometheus:9090", TOKEN_SECRET, "other-token", TOKEN_SECRET)
    for docs in (
        render(values=values, tmp=tmp_path),
        render("ops", "watchNamespaces={team-a}", values=values, tmp=tmp_path),
    ):
        [(kind, namespace, rule)] = rules_on(docs, "secrets")
        assert (kind, namespace) == ("Role", "ops")
        assert rule["verbs"] == ["get"]
        assert rule["resourceNames"] == ["other-token", TOKEN_SECRET]


def test_namespaced_mode_grants_roles_per_namespace_and_only_kopfs_cluster_reads() -> None:
    docs = render("ops", "watchNamespaces={team-a,team-b}")
    # Beside the per-namespace Roles, only the Lease Role of leader election, in the release namespace.
    roles = [r for r in of_kind(docs, "Role", "RoleBinding") if not r["metadata"]["name"].endswith("-leader-election")]
    assert sorted(r["metadata"]["namespace"] for r in roles if r["kind"] == "Role") == ["team-a", "team-b"]
    assert sorted(b["metadata"]["namespace"] for b in roles if b["kind"] == "RoleBinding") == ["team-a", "team-b"]
    operator_roles = [r for r in of_kind(docs, "ClusterRole") if not r["metadata"]["name"].startswith("modelrollout-")]
    [cluster_role] = operator_roles
    assert sorted((tuple(rule["resources"]), tuple(rule["verbs"])) for rule in cluster_role["rules"]) == [
        (("customresourcedefinitions",), ("list", "watch")),
        (("namespaces",), ("list", "watch")),
    ]
    deployment = of_kind(docs, "Deployment")[0]
    assert {"--namespace=team-a", "--namespace=team-b"} <= set(
        deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    )


def test_cluster_scoped_names_carry_the_release_namespace() -> None:
    names = [
        {doc["metadata"]["name"] for doc in of_kind(render(namespace), "ClusterRole", "ClusterRoleBinding")}
        for namespace in ("ops-a", "ops-b")
    ]
    user_roles = {"modelrollout-view", "modelrollout-edit"}
    assert names[0] - user_roles and not (names[0] - user_roles) & (names[1] - user_roles)
    assert user_roles <= names[0]
    assert of_kind(render("ops", "crds.install=false", "userRoles.create=false"), "CustomResourceDefinition") == []


# ------------------------------------------------------------------------------ installing


def release_namespace(api_client: client.ApiClient, prefix: str) -> Iterator[str]:
    core = client.CoreV1Api(api_client)
    name = f"{prefix}-{secrets.token_hex(3)}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    wait_until(lambda: core.read_namespaced_service_account("default", name), timeout=30, what=f"{name}/default")
    yield name
    core.delete_namespace(name)


@pytest.fixture
def other_namespace(api_client: client.ApiClient) -> Iterator[str]:
    yield from release_namespace(api_client, "other")


def can_i(cluster: LocalCluster, account: str, verb: str, resource: str, namespace: str | None) -> bool:
    scope = ["-n", namespace] if namespace else ["--all-namespaces"]
    result = cluster.kubectl("auth", "can-i", verb, resource, "--as", account, *scope, check=False)
    answer = result.stdout.strip()
    assert answer in ("yes", "no"), result.stderr
    return answer == "yes"


def adopt_crds(cluster: LocalCluster, release: str, namespace: str) -> None:
    """Lets a release take over the CRDs the test session installed with kubectl (Helm's documented
    adoption: its ownership label and annotations), as an existing cluster would move to the chart."""
    for crd in ("rollouts.modelrollout.io", "modelversions.modelrollout.io"):
        cluster.kubectl("label", "--overwrite", "crd", crd, "app.kubernetes.io/managed-by=Helm")
        cluster.kubectl(
            "annotate",
            "--overwrite",
            "crd",
            crd,
            f"meta.helm.sh/release-name={release}",
            f"meta.helm.sh/release-namespace={namespace}",
        )


def publish_api_server_endpoints(api_client: client.ApiClient, port: int) -> None:
    """The default/kubernetes EndpointSlice the API server of a real cluster publishes. The local
    control plane listens on loopback, which an EndpointSlice may not hold (and the API server does
    not publish), so the slice names a documentation address (TEST-NET-1) with the real port."""
    discovery = client.DiscoveryV1Api(api_client)
    slice_ = client.V1EndpointSlice(
        metadata=client.V1ObjectMeta(name="kubernetes", labels={"kubernetes.io/service-name": "kubernetes"}),
        address_type="IPv4",
        endpoints=[client.V1Endpoint(addresses=[API_SERVER_ADDRESS])],
        ports=[client.DiscoveryV1EndpointPort(name="https", port=port, protocol="TCP")],
    )
    try:
        discovery.create_namespaced_endpoint_slice("default", slice_)
    except client.ApiException as error:
        if error.status != 409:
            raise


def test_two_releases_in_two_namespaces_install(
    crds: LocalCluster, namespace: str, other_namespace: str, api_client: client.ApiClient
) -> None:
    adopt_crds(crds, "mr", namespace)
    api_port = int(crds.server.rsplit(":", 1)[1])
    publish_api_server_endpoints(api_client, api_port)
    # The first release: cluster mode, CRDs and user roles, the NetworkPolicy with the API server
    # looked up from the cluster, the dashboard.
    first = helm(
        "install", "mr", str(CHART), "-n", namespace,
        "--set", "networkPolicy.enabled=true", "--set", "dashboards.enabled=true",
        cluster=crds,
    )  # fmt: skip
    # The second, in another namespace, watching one namespace; the cluster-wide API objects are the first's.
    second = helm(
        "install", "mr", str(CHART), "-n", other_namespace,
        "--set", "crds.install=false", "--set", "userRoles.create=false", "--set", f"watchNamespaces={{{namespace}}}",
        cluster=crds,
    )  # fmt: skip
    # NOTES.txt tells each what it got.
    assert "--set crds.install=false,userRoles.create=false" in first
    assert f"modelrollout:{namespace}:mr" in first
    assert f"Watching: namespaces {namespace} (Role per namespace)" in second
    try:
        for ns in (namespace, other_namespace):
            crds.kubectl("rollout", "status", "deployment/mr", "-n", ns, "--timeout=90s", timeout=120)
        policy = client.NetworkingV1Api(api_client).read_namespaced_network_policy("mr", namespace)
        egress = policy.spec.egress[0]
        assert [peer.ip_block.cidr for peer in egress.to] == [f"{API_SERVER_ADDRESS}/32"]
        assert [port.port for port in egress.ports] == [api_port]
        dashboard = client.CoreV1Api(api_client).read_namespaced_config_map("mr-dashboard", namespace)
        assert dashboard.metadata.labels["grafana_dashboard"] == "1"
        assert "modelrollout_canary_weight" in dashboard.data["modelrollout.json"]

        # The user roles reach the built-in ones by aggregation: edit may create Rollouts, view may not.
        crds.kubectl("create", "rolebinding", "ml-edit", "--clusterrole=edit", "--user=alice", "-n", namespace)
        crds.kubectl("create", "rolebinding", "ml-view", "--clusterrole=view", "--user=bob", "-n", namespace)
        wait_until(
            lambda: can_i(crds, "alice", "create", "rollouts.modelrollout.io", namespace),
            timeout=60,
            what="edit aggregates modelrollout-edit",
        )
        wait_until(
            lambda: can_i(crds, "bob", "watch", "modelversions.modelrollout.io", namespace),
            timeout=60,
            what="view aggregates modelrollout-view",
        )
        assert not can_i(crds, "bob", "patch", "rollouts.modelrollout.io", namespace)
    finally:
        for ns in (other_namespace, namespace):
            helm("uninstall", "mr", "-n", ns, "--wait", cluster=crds)
    # The CRDs outlive the release (and with them every Rollout and ModelVersion).
    crds.kubectl("get", "crd", "rollouts.modelrollout.io", "modelversions.modelrollout.io")


# ------------------------------------------------------------------------------ operator under its ServiceAccount

HEALTHY: dict[str, float] = {"error_rate": 0.005, "latency_ms": 120.0, "cost_per_request": 0.002, "rps": 40.0}


def wait_scraped(prometheus: LocalPrometheus, labels: dict[str, str]) -> None:
    selector = ",".join(f'{key}="{value}"' for key, value in labels.items())
    query = f'count_over_time(model_requests_total{{{selector},outcome="success"}}[1m])'
    wait_until(lambda: (prometheus.query_scalar(query) or 0) >= 3, timeout=60, what=f"three scrapes of {labels}")


def versions(kube: Cluster, rollout: str, **spec: Any) -> tuple[str, str]:
    """Two ModelVersions of a model named after the rollout; their names."""
    old, new = f"{rollout}-1-0-0", f"{rollout}-1-1-0"
    kube.create(model_version(old, "1.0.0", model=rollout, **spec))
    kube.create(model_version(new, "1.1.0", model=rollout, **spec))
    return old, new


def own_model(rollout: Manifest) -> Manifest:
    """The Rollout manages the model named after it (see `versions`)."""
    rollout["spec"]["model"] = rollout["metadata"]["name"]
    return rollout


def phase_is(phase: str, stable: str | None = None) -> Callable[[dict[str, Any]], bool]:
    return lambda s: s.get("phase") == phase and (stable is None or s.get("stableVersion") == stable)


def forbidden(cluster: LocalCluster, account: str) -> list[str]:
    return [
        f"{e['verb']} {e.get('requestURI')}"
        for e in cluster.audit_events(account)
        if e.get("annotations", {}).get("authorization.k8s.io/decision") == "forbid"
    ]


@pytest.mark.parametrize("mode", ["cluster", "namespaced"])
def test_operator_runs_every_strategy_under_the_charts_rights_alone(
    mode: str,
    crds: LocalCluster,
    namespace: str,
    other_namespace: str,
    api_client: client.ApiClient,
    prometheus: LocalPrometheus,
    simulators: SimulatorFleet,
    tmp_path: Path,
) -> None:
    # `namespace` holds the operator (the release namespace); Rollouts live in `workloads`.
    workloads = other_namespace
    release = f"mr-{mode[:2]}"
    core = client.CoreV1Api(api_client)
    for ns, name in ((namespace, TOKEN_SECRET), (namespace, "unrelated"), (workloads, TOKEN_SECRET)):
        core.create_namespaced_secret(
            ns, client.V1Secret(metadata=client.V1ObjectMeta(name=name), string_data={"token": "s3cr3t"})
        )
    sets = ["crds.install=false", "userRoles.create=false"] + (
        [f"watchNamespaces={{{workloads}}}"] if mode == "namespaced" else []
    )
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(connections(prometheus.url, TOKEN_SECRET)))
    args = ["template", release, str(CHART), "-n", namespace, "-f", str(values_file)]
    docs = [d for d in yaml.safe_load_all(helm(*args, *[a for s in sets for a in ("--set", s)])) if d]
    manifest = tmp_path / "chart.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    crds.kubectl("apply", "-f", str(manifest))
    settings_map = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-settings"))

    account = f"system:serviceaccount:{namespace}:{release}"
    kubeconfig = crds.service_account_kubeconfig(tmp_path / "operator.kubeconfig", namespace, release)
    operator = OperatorProcess(
        kubeconfig,
        tmp_path / "operator.log",
        namespaces=[workloads] if mode == "namespaced" else [],
        settings=yaml.safe_load(settings_map["data"]["settings.yaml"]),
        operator_namespace=namespace,
    ).start()
    kube = Cluster(api_client, workloads)
    try:
        # Canary: steps, an indefinite pause, promote.
        cn_old, cn_new = versions(kube, "cn")
        kube.create(own_model(canary_rollout("cn", cn_old, [{"setWeight": 50}, {"pause": {}}], replicas=2)))
        # Blue-green with auto-promotion and a delayed scale-down.
        bg_old, bg_new = versions(kube, "bg")
        kube.create(
            own_model(bluegreen_rollout("bg", bg_old, replicas=2, autoPromotionSeconds=1, scaleDownDelaySeconds=1))
        )
        # Blue-green waiting for promote, then aborted.
        ab_old, ab_new = versions(kube, "ab")
        kube.create(own_model(bluegreen_rollout("ab", ab_old, replicas=2, autoPromotionEnabled=False)))
        # Canary gated by Prometheus analysis through the connection with its token.
        an_old, an_new = versions(kube, "an")
        sims = [simulators.start("an", version, namespace=workloads, **HEALTHY) for version in ("1.0.0", "1.1.0")]
        analysis = {
            "interval": "2s",
            "window": "10s",
            "metrics": [{"name": "error-rate", "preset": "errorRate"}],
        }
        steps = [{"setWeight": 50}, {"analysis": {"metrics": ["error-rate"]}}]
        kube.create(own_model(canary_rollout("an", an_old, steps, replicas=2, analysis=analysis)))

        for name in ("cn", "bg", "ab", "an"):
            kube.wait_status(name, f"{name} healthy on its first version", phase_is("Healthy"), timeout=120)
        for sim in sims:
            wait_scraped(prometheus, sim.labels)
        for name, target in (("cn", cn_new), ("bg", bg_new), ("ab", ab_new), ("an", an_new)):
            kube.set_target(name, target)

        kube.wait_status("cn", "canary paused at 50", lambda s: s.get("phase") == "Paused", timeout=120)
        kube.control("cn", "promote", "1")
        kube.wait_status("ab", "blue-green waiting for promote", phase_is("Paused"), timeout=120)
        kube.control("ab", "abort", "1")

        kube.wait_status("cn", "canary promoted", phase_is("Healthy", cn_new), timeout=120)
        kube.wait_status("bg", "blue-green promoted", phase_is("Healthy", bg_new), timeout=120)
        kube.wait_status("ab", "blue-green aborted", phase_is("RolledBack", ab_old), timeout=120)
        status = kube.wait_status("an", "analysis passed, promoted", phase_is("Healthy", an_new), timeout=180)
        assert any(m["verdict"] == "pass" for m in status["analysis"]["measurements"]), status["analysis"]
        kube.wait(lambda: kube.replicas("bg").get("1.0.0", (1,))[0] == 0 or None, "old blue-green version scaled to 0")
        kube.wait(lambda: kube.replicas("ab").get("1.1.0", (1,))[0] == 0 or None, "aborted candidate scaled to 0")
        assert kube.model_version_status(ab_new)["stage"] == "rejected"
        assert kube.model_version_status(cn_old)["stage"] == "deprecated"
        assert "Promoted" in kube.reasons("cn")
    finally:
        operator.stop()

    # Zero refusals: no request of the operator's account was denied by RBAC.
    assert forbidden(crds, account) == [], operator.log_tail()
    used = sorted(
        {
            (e["verb"], e["objectRef"].get("resource", ""), e["objectRef"].get("subresource", ""))
            for e in crds.audit_events(account)
            if e.get("objectRef")
        }
    )
    print(f"\n{mode} mode: the operator used {len(used)} verb/resource pairs: {used}")
    assert "Not enough permissions" not in operator.log_path.read_text()
    assert ("get", "secrets", "") in used  # the token was read, under the chart's Role

    # What must be denied.
    assert can_i(crds, account, "get", f"secrets/{TOKEN_SECRET}", namespace)
    denied = [
        ("get", "secrets/unrelated", namespace),
        ("list", "secrets", namespace),
        ("get", f"secrets/{TOKEN_SECRET}", workloads),
        ("get", "secrets", None),
        ("delete", "modelversions.modelrollout.io", workloads),
        ("delete", "rollouts.modelrollout.io", workloads),
        ("delete", "services", workloads),
        ("update", "rollouts.modelrollout.io", workloads),
        ("create", "pods", workloads),
        ("create", "rolebindings.rbac.authorization.k8s.io", workloads),
    ]
    if mode == "namespaced":
        # Nothing in a namespace it does not watch, and no namespaced object cluster-wide.
        denied += [
            ("list", "rollouts.modelrollout.io", "default"),
            ("patch", "deployments.apps", "default"),
            ("get", "services", "default"),
            ("create", "events", "default"),
            ("list", "rollouts.modelrollout.io", None),
            ("watch", "deployments.apps", None),
        ]
    allowed = [verb for verb in denied if can_i(crds, account, *verb)]
    assert allowed == [], f"the operator may {allowed}"
