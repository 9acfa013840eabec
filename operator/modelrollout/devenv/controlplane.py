"""A real Kubernetes control plane on loopback: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok (a fake kubelet that makes scheduled pods Running and Ready).

    with LocalCluster() as cluster:
        cluster.kubectl("get", "nodes")
        apps = kubernetes.client.AppsV1Api(cluster.api_client())
"""

from __future__ import annotations

import atexit
import http.client
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from modelrollout.devenv.binaries import ensure_binaries
from modelrollout.devenv.certs import ClusterPKI, generate_pki
from modelrollout.devenv.kubeconfig import write_kubeconfig, write_token_kubeconfig
from modelrollout.devenv.processes import ManagedProcess, ProcessFailedError, free_port, wait_until

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

# 65,534 Service IPs: scale runs create three Services per Rollout (a /24 ran out at 125 Rollouts).
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/16"
POD_CIDR = "10.244.0.0/16"
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"
KWOK_NODE_ANNOTATION_VALUE = "fake"

# The API server records every request made by a ServiceAccount (metadata only: who, what, and
# whether RBAC allowed it) and nothing else: the control plane's own components use the admin
# certificate, so the log holds just what workloads such as the operator under its chart's
# ServiceAccount asked for. Tests read it with `LocalCluster.audit_events`.
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [{"level": "Metadata", "userGroups": ["system:serviceaccounts"]}, {"level": "None"}],
}


def fake_node(name: str) -> dict[str, Any]:
    """A Node that kwok manages: it reports Ready and its pods become Running and Ready."""
    resources = {"cpu": "32", "memory": "128Gi", "pods": "250"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_NODE_ANNOTATION: KWOK_NODE_ANNOTATION_VALUE},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
        },
        "spec": {},
        "status": {"allocatable": resources, "capacity": resources},
    }


class LocalCluster:
    """Starts the control plane in `work_dir` (a fresh temp dir by default) on free ports."""

    def __init__(
        self,
        work_dir: Path | None = None,
        *,
        nodes: int = 1,
        start_timeout: float = 90.0,
        die_with_parent: bool = True,
        keep_work_dir: bool | None = None,
    ) -> None:
        self._owns_work_dir = work_dir is None
        self.work_dir = Path(tempfile.mkdtemp(prefix="modelrollout-cluster-")) if work_dir is None else work_dir
        self.node_names = [f"kwok-node-{index}" for index in range(nodes)]
        self.start_timeout = start_timeout
        self.die_with_parent = die_with_parent
        if keep_work_dir is None:
            keep_work_dir = os.environ.get("MODELROLLOUT_KEEP_WORKDIR", "") not in ("", "0")
        self.keep_work_dir = keep_work_dir
        self.kubeconfig_path = self.work_dir / "kubeconfig"
        self.server = ""
        self.startup_seconds: float | None = None
        self.binaries: dict[str, Path] = {}
        self._pki: ClusterPKI | None = None
        self._processes: list[ManagedProcess] = []
        self._ssl: ssl.SSLContext | None = None
        self._port = 0
        self._deadline = 0.0

    # ----------------------------------------------------------------------------- lifecycle

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> LocalCluster:
        self.binaries = ensure_binaries()  # may build for minutes the first time: not startup
        started = time.monotonic()
        self._deadline = started + self.start_timeout
        self.work_dir.mkdir(parents=True, exist_ok=True)
        # Also on an interrupted run: the processes' own atexit hook would stop them, this one
        # removes the work dir too (registered later, so it runs first).
        atexit.register(self.stop)
        try:
            self._start_api_server()
            self._start_controllers()
            self._wait_until_usable()
        except BaseException:
            self.stop(remove_work_dir=False)
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def stop(self, *, remove_work_dir: bool = True) -> None:
        atexit.unregister(self.stop)
        for process in reversed(self._processes):
            process.stop()
        self._processes.clear()
        if remove_work_dir and self._owns_work_dir and not self.keep_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def detach(self) -> dict[str, int]:
        """Leaves every component running after this interpreter exits; returns their pids."""
        atexit.unregister(self.stop)
        for process in self._processes:
            process.detach()
        return self.pids()

    def pids(self) -> dict[str, int]:
        return {process.name: process.pid for process in self._processes}

    def log_path(self, component: str) -> Path:
        return self.work_dir / "logs" / f"{component}.log"

    @property
    def audit_log_path(self) -> Path:
        return self.work_dir / "logs" / "audit.jsonl"

    def audit_events(self, username: str | None = None) -> list[dict[str, Any]]:
        """The API server's audit events (requests by ServiceAccounts), optionally of one user,
        e.g. `system:serviceaccount:NAMESPACE:NAME`; oldest first."""
        if not self.audit_log_path.exists():
            return []
        events = []
        for line in self.audit_log_path.read_text().splitlines():
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:  # the last line may be half-written
                continue
            if username is None or event.get("user", {}).get("username") == username:
                events.append(event)
        return events

    # ------------------------------------------------------------------------------- clients

    def api_client(self) -> ApiClient:
        """A fresh `kubernetes.client.ApiClient` authenticated as cluster admin."""
        from kubernetes import config  # imported late: the package is optional for sim users

        client: ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(self.kubeconfig_path)
        )
        return client

    def service_account_kubeconfig(self, path: Path, namespace: str, name: str, *, duration: str = "2h") -> Path:
        """A kubeconfig holding only a token of ServiceAccount `namespace/name` (`kubectl create token`)."""
        assert self._pki is not None, "the cluster is not started"
        token = self.kubectl("create", "token", name, "-n", namespace, f"--duration={duration}").stdout.strip()
        return write_token_kubeconfig(
            path, server=self.server, ca_cert=self._pki.ca_cert, token=token, namespace=namespace
        )

    def env(self) -> dict[str, str]:
        """Environment for subprocesses: KUBECONFIG, and kubectl/helm/kwok first on PATH."""
        env = dict(os.environ)
        env["KUBECONFIG"] = str(self.kubeconfig_path)
        bin_dirs = dict.fromkeys(str(path.parent) for path in self.binaries.values())
        env["PATH"] = os.pathsep.join([*bin_dirs, env.get("PATH", "")])
        return env

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """Runs the built kubectl against this cluster; raises with stderr when `check` fails."""
        result = subprocess.run(
            [str(self.binaries["kubectl"]), f"--kubeconfig={self.kubeconfig_path}", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
        return result

    def wait_crds_established(self, *names: str, timeout: float = 90.0) -> None:
        """Waits until the API server serves these CRDs (by full name, e.g. rollouts.modelrollout.io).

        Polls the CRD's conditions itself: `kubectl wait --for=condition=Established` fails outright
        when it reads a CRD created a moment ago that has no status.conditions yet.
        """

        def established(name: str) -> bool:
            status, body = self._request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
            if status != 200:
                return False
            conditions = json.loads(body).get("status", {}).get("conditions") or []
            return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)

        wait_until(
            lambda: all(established(name) for name in names) or None,
            timeout=timeout,
            what=f"CRDs established: {', '.join(names)}",
        )

    def get_json(self, path: str) -> Any:
        """GET an API path (e.g. /api/v1/nodes) as admin; cheap, no client library needed."""
        status, body = self._request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: HTTP {status}: {body[:300]!r}")
        return json.loads(body)

    # ------------------------------------------------------------------------------ internals

    def _spawn(self, name: str, argv: list[str]) -> ManagedProcess:
        process = ManagedProcess(
            name, argv, self.log_path(name), cwd=self.work_dir, die_with_parent=self.die_with_parent
        ).start()
        self._processes.append(process)
        return process

    def _start_api_server(self) -> None:
        pki = self._pki = generate_pki(self.work_dir / "pki")
        etcd_port, etcd_peer_port, self._port = free_port(), free_port(), free_port()
        self.server = f"https://127.0.0.1:{self._port}"
        audit_policy = self.work_dir / "audit-policy.json"
        audit_policy.write_text(json.dumps(AUDIT_POLICY))
        self.audit_log_path.parent.mkdir(parents=True, exist_ok=True)
        etcd_url, peer_url = f"http://127.0.0.1:{etcd_port}", f"http://127.0.0.1:{etcd_peer_port}"
        etcd = self._spawn(
            "etcd",
            [
                str(self.binaries["etcd"]),
                "--name=local",
                f"--data-dir={self.work_dir / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=local={peer_url}",
                "--unsafe-no-fsync",  # throwaway data: durability buys nothing, fsync costs seconds
                "--log-level=warn",
            ],
        )
        apiserver = self._spawn(
            "kube-apiserver",
            [
                str(self.binaries["kube-apiserver"]),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self._port}",
                f"--cert-dir={self.work_dir / 'apiserver-certs'}",
                f"--tls-cert-file={pki.serving_cert}",
                f"--tls-private-key-file={pki.serving_key}",
                f"--client-ca-file={pki.ca_cert}",
                f"--service-account-key-file={pki.service_account_pub}",
                f"--service-account-signing-key-file={pki.service_account_key}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                "--authorization-mode=Node,RBAC",
                f"--audit-policy-file={audit_policy}",
                f"--audit-log-path={self.audit_log_path}",
                "--audit-log-format=json",
                "--audit-log-mode=blocking",
                # Owner references that block deletion need `update` on the owner's finalizers,
                # as on clusters that enable this plugin (OpenShift does): the chart must grant it.
                "--enable-admission-plugins=OwnerReferencesPermissionEnforcement",
                "--allow-privileged=true",
                "--profiling=false",
            ],
        )
        self._ssl = ssl.create_default_context(cafile=str(pki.ca_cert))
        self._ssl.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
        write_kubeconfig(
            self.kubeconfig_path,
            server=self.server,
            ca_cert=pki.ca_cert,
            client_cert=pki.admin_cert,
            client_key=pki.admin_key,
        )

        def both_alive() -> None:
            etcd.check_running()
            apiserver.check_running()

        self._wait(
            lambda: self._request("GET", "/readyz")[0] == 200,
            what="kube-apiserver /readyz",
            alive=both_alive,
            blame=apiserver,
        )

    def _start_controllers(self) -> None:
        assert self._pki is not None
        kubeconfig = str(self.kubeconfig_path)
        # The admin identity for every component: this is a disposable single-user cluster. No
        # delegated authn/z for their own HTTPS ports: nobody scrapes them, and it would need a
        # front-proxy CA on the API server.
        common = [f"--kubeconfig={kubeconfig}", "--bind-address=127.0.0.1", "--leader-elect=false"]
        self._spawn(
            "kube-controller-manager",
            [
                str(self.binaries["kube-controller-manager"]),
                *common,
                f"--secure-port={free_port()}",
                f"--cert-dir={self.work_dir / 'kcm-certs'}",
                "--controllers=*",
                "--use-service-account-credentials=false",
                f"--service-account-private-key-file={self._pki.service_account_key}",
                f"--root-ca-file={self._pki.ca_cert}",
                f"--cluster-signing-cert-file={self._pki.ca_cert}",
                f"--cluster-signing-key-file={self._pki.ca_key}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                # Tests create and delete many small objects; more workers keep them from queueing.
                "--concurrent-deployment-syncs=10",
                "--concurrent-replicaset-syncs=10",
                "--concurrent-service-endpoint-syncs=10",
                "--concurrent-gc-syncs=30",
                "--concurrent-namespace-syncs=10",
            ],
        )
        self._spawn(
            "kube-scheduler",
            [
                str(self.binaries["kube-scheduler"]),
                *common,
                f"--secure-port={free_port()}",
                f"--cert-dir={self.work_dir / 'scheduler-certs'}",
            ],
        )
        self._spawn(
            "kwok",
            [
                str(self.binaries["kwok"]),
                f"--kubeconfig={kubeconfig}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={KWOK_NODE_ANNOTATION}={KWOK_NODE_ANNOTATION_VALUE}",
                f"--cidr={POD_CIDR}",
                "--node-ip=127.0.0.1",
                f"--server-address=127.0.0.1:{free_port()}",
                # Heartbeat through node Leases (renewed every ~10 s). Without them kwok refreshes
                # node status only every ~50 s, racing the controller's 50 s grace period: nodes
                # flip NotReady and every pod loses readiness mid-test.
                "--node-lease-duration-seconds=40",
            ],
        )
        for name in self.node_names:
            status, body = self._request("POST", "/api/v1/nodes", fake_node(name))
            if status not in (201, 409):
                raise RuntimeError(f"creating node {name}: HTTP {status}: {body[:300]!r}")

    def _wait_until_usable(self) -> None:
        def all_alive() -> None:
            for process in self._processes:
                process.check_running()

        components = {process.name: process for process in self._processes}
        self._wait(self._nodes_ready, what="kwok nodes Ready", alive=all_alive, blame=components["kwok"])
        self._wait(
            lambda: self._request("GET", "/api/v1/namespaces/default/serviceaccounts/default")[0] == 200,
            what="the default ServiceAccount (kube-controller-manager)",
            alive=all_alive,
            blame=components["kube-controller-manager"],
        )

    def _nodes_ready(self) -> bool:
        nodes = self.get_json("/api/v1/nodes")["items"]
        ready = {
            node["metadata"]["name"]
            for node in nodes
            for condition in node.get("status", {}).get("conditions", [])
            if condition["type"] == "Ready" and condition["status"] == "True"
        }
        return set(self.node_names) <= ready

    def _wait(self, check: Callable[[], bool], *, what: str, alive: Callable[[], None], blame: ManagedProcess) -> None:
        remaining = max(1.0, self._deadline - time.monotonic())
        try:
            wait_until(check, timeout=remaining, what=what, alive=alive)
        except TimeoutError as exc:
            raise ProcessFailedError(f"{exc}\n{blame.describe_log()}") from None

    def _request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        connection = http.client.HTTPSConnection("127.0.0.1", self._port, context=self._ssl, timeout=10)
        try:
            payload = None if body is None else json.dumps(body).encode()
            headers = {"Content-Type": "application/json"} if payload is not None else {}
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()
