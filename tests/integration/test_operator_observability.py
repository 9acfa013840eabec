"""What an operator of the operator sees: the kubeconfig it was given, its /metrics scraped by a real
Prometheus, its log, and the webhooks it calls. The real operator process on the real control plane."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from rollouts import Cluster, canary_rollout, model_version

from modelrollout.devenv import LocalCluster, LocalPrometheus, free_port, wait_until
from modelrollout.devenv.operator import OperatorProcess

ROOT = Path(__file__).resolve().parents[2]
STEPS = [{"setWeight": 50}, {"pause": {}}]


def decoy_kubeconfig(path: Path) -> Path:
    """A kubeconfig for a cluster that does not exist: whatever reads it cannot reach anything."""
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "decoy", "cluster": {"server": "https://127.0.0.1:1"}}],
                "users": [{"name": "decoy", "user": {"token": "nothing"}}],
                "contexts": [{"name": "decoy", "context": {"cluster": "decoy", "user": "decoy"}}],
                "current-context": "decoy",
            }
        )
    )
    return path


def reaches_healthy(kube: Cluster) -> None:
    kube.create(model_version("sa-2-3-1", "2.3.1"))
    kube.create(canary_rollout("sa", "sa-2-3-1", STEPS, replicas=2))
    status = kube.wait_status("sa", "first version healthy", lambda s: s.get("phase") == "Healthy")
    assert status["stableVersion"] == "sa-2-3-1"


@pytest.mark.parametrize("environment", ["no-kubeconfig-variable", "decoy-kubeconfig-variable"])
def test_run_uses_only_the_kubeconfig_flag(
    crds: LocalCluster, kube: Cluster, namespace: str, tmp_path: Path, environment: str
) -> None:
    # No ~/.kube/config either: a fresh machine where only --kubeconfig says where the cluster is.
    env = {"HOME": str(tmp_path)}
    if environment == "decoy-kubeconfig-variable":
        env["KUBECONFIG"] = str(decoy_kubeconfig(tmp_path / "decoy.yaml"))
    with OperatorProcess(crds.kubeconfig_path, tmp_path / "operator.log", namespaces=[namespace], extra_env=env):
        # Watching (kopf) and writing (the reconciler) both reach the cluster of --kubeconfig.
        reaches_healthy(kube)


def dashboard_queries(namespace: str) -> list[str]:
    """The Grafana dashboard's queries with its variables as Grafana would fill them in."""
    dashboard = json.loads((ROOT / "charts" / "modelrollout" / "dashboards" / "modelrollout.json").read_text())
    values = {"$namespace": namespace, "$rollout": "sa", "$__rate_interval": "1m", "$__range": "5m"}
    queries = []
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            query = target["expr"]
            for variable, value in values.items():
                query = query.replace(variable, value)
            queries.append(query)
    return queries


def log_lines(operator: OperatorProcess) -> list[str]:
    return operator.log_path.read_text().splitlines()


def test_metrics_are_scraped_during_a_rollout_and_decisions_are_logged_once(
    crds: LocalCluster, kube: Cluster, namespace: str, prometheus: LocalPrometheus, tmp_path: Path
) -> None:
    port = free_port()
    address = f"127.0.0.1:{port}"
    operator = OperatorProcess(
        crds.kubeconfig_path, tmp_path / "operator.log", namespaces=[namespace], metrics_port=port
    ).start()
    prometheus.add_target(address, {"component": "modelrollout-operator"})
    try:
        prometheus.wait_for_target_up(address, timeout=60)
        kube.create(model_version("sa-2-3-1", "2.3.1"))
        kube.create(model_version("sa-2-4-0", "2.4.0"))
        kube.create(canary_rollout("sa", "sa-2-3-1", STEPS))
        kube.wait_status("sa", "first version healthy", lambda s: s.get("phase") == "Healthy")
        kube.set_target("sa", "sa-2-4-0")
        kube.wait_status("sa", "paused at 50 %", lambda s: s.get("phase") == "Paused" and s.get("canaryWeight") == 50)

        labels = f'namespace="{namespace}",rollout="sa"'
        wait_until(
            lambda: prometheus.query_scalar(f'modelrollout_rollout_phase{{{labels},phase="Paused"}}') == 1.0,
            timeout=60,
            what="Prometheus shows the rollout Paused",
        )
        assert prometheus.query_scalar(f"modelrollout_canary_weight{{{labels}}}") == 50.0
        assert prometheus.query_scalar(f'modelrollout_rollout_phase{{{labels},phase="Healthy"}}') == 0.0
        info = prometheus.query(f"modelrollout_rollout_info{{{labels}}}")
        assert info[0]["metric"]["candidate_version"] == "sa-2-4-0"
        assert info[0]["metric"]["strategy"] == "canary"
        assert (prometheus.query_scalar('sum(modelrollout_reconcile_duration_seconds_count{result="ok"})') or 0) > 0
        empty = [query for query in dashboard_queries(namespace) if not prometheus.query(query)]
        # Every panel's query is valid PromQL; those about the state now have data already.
        assert not {q for q in empty if "phase" in q or "canary_weight" in q or "rollout_info" in q}, empty

        kube.control("sa", "promote", "1")
        kube.wait_status(
            "sa", "promoted", lambda s: s.get("phase") == "Healthy" and s.get("stableVersion") == "sa-2-4-0"
        )
        wait_until(
            lambda: prometheus.query_scalar(f"sum(modelrollout_promotions_total{{{labels}}})") == 1.0,
            timeout=60,
            what="the promotion counted",
        )
        wait_until(
            lambda: prometheus.query_scalar(f"modelrollout_canary_weight{{{labels}}}") == 0.0,
            timeout=60,
            what="weight back to 0 after promotion",
        )
    finally:
        prometheus.remove_target(address)
        operator.stop()

    lines = log_lines(operator)
    decisions = [line for line in lines if f"rollout {namespace}/sa: " in line]
    for reason in ("Initialized", "RolloutStarted", "StepCompleted", "Paused", "Promoted"):
        assert any(f": {reason}: " in line for line in decisions), f"no log line for {reason}:\n" + "\n".join(lines)
    assert all(" INFO " in line or "[INFO" in line for line in decisions)
    # Each line once: one log handler, one line per decision (timestamps make repeated lines unique,
    # so compare the text after them).
    promoted = [line for line in decisions if ": Promoted: sa-2-4-0" in line]
    assert len(promoted) == 1, "\n".join(promoted)
    # One log handler: kopf's own lines appear once too; and no INFO line per handled watch event.
    assert sum("Initial authentication has finished" in line for line in lines) == 1, "\n".join(lines[:20])
    assert not [line for line in lines if "Handler 'rollout_event' succeeded" in line]


# ---------------------------------------------------------------- notifications


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Receiver:
    """A local HTTP server that records POSTs; the first `fail_first` requests get 503."""

    fail_first: int = 0
    received: list[Received] = field(default_factory=list)
    attempts: int = 0

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(length))
                receiver.attempts += 1
                if receiver.attempts <= receiver.fail_first:
                    self.send_response(503)
                else:
                    receiver.received.append(Received(self.path, dict(self.headers), payload))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [r.body for r in self.received if r.path == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(fail_first=2)
    yield server
    server.close()


def secret(api_client: client.ApiClient, namespace: str, name: str, data: dict[str, str]) -> None:
    client.CoreV1Api(api_client).create_namespaced_secret(
        namespace, client.V1Secret(metadata=client.V1ObjectMeta(name=name), string_data=data)
    )


def test_webhooks_hear_promotions_and_rollbacks_with_retries(
    crds: LocalCluster, api_client: client.ApiClient, kube: Cluster, namespace: str, receiver: Receiver, tmp_path: Path
) -> None:
    # The operator's own namespace holds every webhook's Secrets; the Rollout subscribes by name.
    operator_namespace = f"{namespace[:50]}-op"
    client.CoreV1Api(api_client).create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=operator_namespace))
    )
    secret(api_client, operator_namespace, "global-hook", {"authorization": "Bearer s3cret"})
    secret(api_client, operator_namespace, "team-hook", {"url": receiver.url("/team")})
    settings = {
        "notifications": [
            {
                "name": "platform",
                "url": receiver.url("/platform"),
                "authorizationSecretRef": {"name": "global-hook", "key": "authorization"},
                "triggers": ["RolledBack"],
            },
            {"name": "team", "urlSecretRef": {"name": "team-hook", "key": "url"}, "subscribersOnly": True},
        ]
    }
    operator = OperatorProcess(
        crds.kubeconfig_path,
        tmp_path / "operator.log",
        namespaces=[namespace],
        settings=settings,
        operator_namespace=operator_namespace,
    ).start()
    try:
        kube.create(model_version("sa-2-3-1", "2.3.1"))
        kube.create(model_version("sa-2-4-0", "2.4.0"))
        kube.create(model_version("sa-2-5-0", "2.5.0"))
        notifications = {"webhooks": [{"webhook": "team"}]}
        kube.create(canary_rollout("sa", "sa-2-3-1", STEPS, replicas=2, notifications=notifications))
        kube.wait_status("sa", "first version healthy", lambda s: s.get("phase") == "Healthy")

        kube.set_target("sa", "sa-2-4-0")
        kube.wait_status("sa", "paused", lambda s: s.get("phase") == "Paused" and s.get("canaryWeight") == 50)
        kube.control("sa", "promote", "1")
        kube.wait_status(
            "sa", "promoted", lambda s: s.get("stableVersion") == "sa-2-4-0" and s.get("phase") == "Healthy"
        )

        kube.set_target("sa", "sa-2-5-0")
        kube.wait_status(
            "sa", "paused", lambda s: s.get("phase") == "Paused" and s.get("candidateVersion") == "sa-2-5-0"
        )
        kube.control("sa", "abort", "2")
        kube.wait_status("sa", "aborted", lambda s: s.get("phase") == "RolledBack")

        def team_heard_rollback() -> bool:
            return any(b["trigger"] == "RolledBack" for b in receiver.bodies("/team"))

        wait_until(team_heard_rollback, timeout=60, what="the team webhook hears the rollback")
        wait_until(
            lambda: receiver.bodies("/platform") or None, timeout=60, what="the platform webhook hears the rollback"
        )
    finally:
        operator.stop()
        client.CoreV1Api(api_client).delete_namespace(operator_namespace)

    team = receiver.bodies("/team")
    promoted = [b for b in team if b["trigger"] == "Promoted"]
    # The first two attempts were refused (503) and retried.
    assert [b["candidateVersion"] for b in promoted] == ["sa-2-4-0"]
    assert receiver.attempts >= len(receiver.received) + 2
    rolled_back = next(b for b in team if b["trigger"] == "RolledBack")
    assert rolled_back["candidateVersion"] == "sa-2-5-0"
    assert rolled_back["reason"] == "Aborted"
    assert rolled_back["text"].startswith(":rotating_light:") and f"{namespace}/sa" in rolled_back["text"]
    # The global webhook asked for rollbacks only, and sent the token from the operator's namespace.
    platform = [r for r in receiver.received if r.path == "/platform"]
    assert [r.body["trigger"] for r in platform] == ["RolledBack"]
    assert platform[0].headers["Authorization"] == "Bearer s3cret"


def test_a_pause_for_missing_data_is_notified(
    crds: LocalCluster, kube: Cluster, namespace: str, prometheus: LocalPrometheus, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.fail_first = 0
    settings = {"notifications": [{"name": "team", "url": receiver.url("/team"), "subscribersOnly": True}]}
    operator = OperatorProcess(
        crds.kubeconfig_path,
        tmp_path / "operator.log",
        namespaces=[namespace],
        prometheus_url=prometheus.url,
        settings=settings,
    ).start()
    try:
        kube.create(model_version("sa-2-3-1", "2.3.1"))
        kube.create(model_version("sa-2-4-0", "2.4.0"))
        # No model server reports metrics: the analysis step has nothing to measure.
        analysis = {
            "interval": "2s",
            "window": "10s",
            "onNoData": "pause",
            "metrics": [{"name": "error-rate", "preset": "errorRate"}],
        }
        webhook = {"webhook": "team", "triggers": ["PausedNoData"]}
        steps = [{"setWeight": 25}, {"analysis": {"metrics": ["error-rate"]}}]
        rollout = canary_rollout(
            "sa", "sa-2-3-1", steps, replicas=2, analysis=analysis, notifications={"webhooks": [webhook]}
        )
        kube.create(rollout)
        kube.wait_status("sa", "healthy", lambda s: s.get("phase") == "Healthy")
        kube.set_target("sa", "sa-2-4-0")
        wait_until(lambda: receiver.bodies("/team") or None, timeout=90, what="the webhook hears the pause")
    finally:
        operator.stop()
    (body,) = receiver.bodies("/team")
    assert (body["trigger"], body["reason"], body["phase"]) == ("PausedNoData", "InconclusiveAnalysis", "Paused")
    assert body["candidateVersion"] == "sa-2-4-0" and "no data" in body["message"]
