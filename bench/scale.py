"""N concurrent canaries on one operator, against the real control plane and a real Prometheus.

For each N: a fresh local control plane (etcd, kube-apiserver with its audit log, controller
manager, scheduler, kwok) and Prometheus; one exporter in this process serves healthy counters
(`model_requests_total`, 1 % errors) for every rollout and version. N Rollouts spread over
several namespaces run a 4-step canary with background errorRate analysis. The operator runs
under a ServiceAccount of its own, so the audit log holds exactly its requests.

Printed per N:
- create: time until all N are Healthy on the first version, operator CPU seconds;
- update (every targetVersion changed at once): time until all complete, spec change -> first
  child write (the new Deployment's ADDED event) p50/p99, operator CPU seconds and peak RSS;
- API requests of the operator per rollout and per step, by verb and resource;
- Prometheus queries per analysis tick (from Prometheus' own request counter);
- idle: operator CPU seconds per minute and requests per second once everything is Healthy.

    .venv/bin/python bench/scale.py --n 100 300 1000

Nothing is asserted: these are figures, not a test. Quote medians of several runs.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from kubernetes import client, watch
from prometheus_client import start_http_server
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from modelrollout.api.common import GROUP, VERSION
from modelrollout.api.crd import RESOURCES
from modelrollout.api.labels import ROLLOUT_LABEL, VERSION_LABEL
from modelrollout.devenv import LocalCluster, LocalPrometheus, free_port
from modelrollout.devenv.operator import OperatorProcess

ROOT = Path(__file__).resolve().parents[1]
V1, V2 = "1.0.0", "1.1.0"
SUFFIX = {V1: "a", V2: "b"}  # ModelVersion names: m0001-a, m0001-b
RPS = 20.0
ERROR_RATE = 0.01
OPERATOR_NS, OPERATOR_SA = "modelrollout-system", "modelrollout"
OPERATOR_USER = f"system:serviceaccount:{OPERATOR_NS}:{OPERATOR_SA}"
STEPS: list[dict[str, Any]] = [
    {"setWeight": 20},
    {"pause": {"duration": "5s"}},
    {"setWeight": 60},
    {"pause": {"duration": "5s"}},
]
READ_VERBS = {"get", "list", "watch"}


# ------------------------------------------------------------------------------------- exporter


class HealthyCounters(Collector):
    """Request counters that grow at RPS with ERROR_RATE errors, for every (namespace, rollout)."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.rollouts: list[tuple[str, str]] = []

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "model_requests", "Requests served", labels=["namespace", "rollout", "version", "outcome"]
        )
        total = RPS * (time.monotonic() - self.started)
        for namespace, rollout in list(self.rollouts):
            for version in (V1, V2):
                family.add_metric([namespace, rollout, version, "success"], total * (1 - ERROR_RATE))
                family.add_metric([namespace, rollout, version, "error"], total * ERROR_RATE)
        yield family


# ---------------------------------------------------------------------------------- measuring


def cpu_seconds(pid: int) -> float:
    ticks = 100.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class PeakRss:
    """Samples a process' RSS twice a second while in the `with` block."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.done.is_set():
            with contextlib.suppress(OSError):
                self.peak = max(self.peak, rss_mib(self.pid))
            self.done.wait(0.5)

    def __enter__(self) -> PeakRss:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.done.set()
        self.thread.join()


def prometheus_queries(prometheus: LocalPrometheus) -> float:
    """Instant queries Prometheus has answered so far (its own request counter)."""
    with urllib.request.urlopen(f"{prometheus.url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("prometheus_http_requests_total{") and 'handler="/api/v1/query"' in line
    )


def audit_requests(cluster: LocalCluster, start: float, end: float) -> Counter[str]:
    """The operator's requests received in [start, end] (wall clock), as 'verb resource'."""
    counts: Counter[str] = Counter()
    for event in cluster.audit_events(OPERATOR_USER):
        if event.get("stage") != "ResponseComplete":
            continue
        at = datetime.fromisoformat(event["requestReceivedTimestamp"].replace("Z", "+00:00")).timestamp()
        if not start <= at <= end:
            continue
        ref = event.get("objectRef") or {}
        resource = ref.get("resource", "?") + (f"/{ref['subresource']}" if ref.get("subresource") else "")
        counts[f"{event['verb']} {resource}"] += 1
    return counts


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


# ------------------------------------------------------------------------------------ the fleet


@dataclass
class Fleet:
    """Watches every Rollout and managed Deployment of the cluster, timestamping what it sees."""

    api: client.ApiClient
    lock: threading.Condition = field(default_factory=threading.Condition)
    rollouts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    deployment_seen: dict[tuple[str, str, str], float] = field(default_factory=dict)
    stopping: bool = False

    def start(self) -> None:
        custom = client.CustomObjectsApi(self.api)
        apps = client.AppsV1Api(self.api)
        self.spawn(
            lambda stream: stream.stream(custom.list_cluster_custom_object, GROUP, VERSION, "rollouts"),  # type: ignore[no-untyped-call]
            self.on_rollout,
        )
        self.spawn(
            lambda stream: stream.stream(apps.list_deployment_for_all_namespaces, label_selector=ROLLOUT_LABEL),  # type: ignore[no-untyped-call]
            self.on_deployment,
        )

    def spawn(
        self, events: Callable[[watch.Watch], Iterable[dict[str, Any]]], handle: Callable[[dict[str, Any]], None]
    ) -> None:
        def run() -> None:
            while not self.stopping:
                stream = watch.Watch()  # type: ignore[no-untyped-call]
                with contextlib.suppress(Exception):
                    for event in events(stream):
                        handle(event)
                        if self.stopping:
                            return

        threading.Thread(target=run, daemon=True).start()

    def on_rollout(self, event: dict[str, Any]) -> None:
        obj = event["raw_object"]
        with self.lock:
            self.rollouts[(obj["metadata"]["namespace"], obj["metadata"]["name"])] = obj
            self.lock.notify_all()

    def on_deployment(self, event: dict[str, Any]) -> None:
        obj = event["raw_object"]
        labels = obj["metadata"].get("labels") or {}
        key = (obj["metadata"]["namespace"], labels.get(ROLLOUT_LABEL, "?"), labels.get(VERSION_LABEL, "?"))
        with self.lock:
            self.deployment_seen.setdefault(key, time.monotonic())

    def healthy_on(self, namespace: str, name: str, version: str) -> bool:
        obj = self.rollouts.get((namespace, name))
        if obj is None:
            return False
        status = obj.get("status") or {}
        return (
            status.get("phase") == "Healthy"
            and status.get("stableVersion") == f"{name}-{SUFFIX[version]}"
            and status.get("observedGeneration") == obj["metadata"].get("generation")
        )

    def wait_all(self, names: list[tuple[str, str]], version: str, timeout: float) -> dict[tuple[str, str], float]:
        """When each Rollout was first seen Healthy on `version` (monotonic), until all are or timeout."""
        done: dict[tuple[str, str], float] = {}
        deadline = time.monotonic() + timeout
        with self.lock:
            while len(done) < len(names) and time.monotonic() < deadline:
                for key in names:
                    if key not in done and self.healthy_on(*key, version):
                        done[key] = time.monotonic()
                self.lock.wait(0.5)
        return done


def model_version(rollout: str, version: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ModelVersion",
        "metadata": {"name": f"{rollout}-{SUFFIX[version]}"},
        "spec": {
            "model": rollout,
            "version": version,
            "stage": "staging",
            "template": {"spec": {"containers": [{"name": "server", "image": f"example.com/{rollout}:{version}"}]}},
        },
    }


def rollout(name: str, interval: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "model": name,
            "targetVersion": f"{name}-{SUFFIX[V1]}",
            "replicas": 1,
            "strategy": {"canary": {"steps": STEPS, "scaleDownDelaySeconds": 0}},
            "analysis": {
                "interval": interval,
                "window": "30s",
                "metrics": [{"name": "error-rate", "preset": "errorRate", "background": True}],
            },
        },
    }


# ---------------------------------------------------------------------------------------- a run


@dataclass
class Figures:
    n: int
    create_s: float | None
    create_cpu_s: float
    created: int
    complete_s: float | None
    completed: int
    update_cpu_s: float
    peak_rss_mib: float
    first_write_p50_s: float | None
    first_write_p99_s: float | None
    reads_per_rollout: float
    writes_per_rollout: float
    requests_by_kind: Counter[str]
    queries_per_tick: float
    idle_cpu_per_min: float
    idle_requests_per_s: float
    idle_requests_by_kind: Counter[str]


def fan_out(names: list[tuple[str, str]], action: Callable[[tuple[str, str]], None]) -> None:
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(action, names))


def install_operator_identity(cluster: LocalCluster, work: Path) -> Path:
    cluster.kubectl("create", "namespace", OPERATOR_NS)
    cluster.kubectl("create", "serviceaccount", OPERATOR_SA, "-n", OPERATOR_NS)
    cluster.kubectl(
        "create", "clusterrolebinding", "bench-operator", "--clusterrole=cluster-admin",
        f"--serviceaccount={OPERATOR_NS}:{OPERATOR_SA}",
    )  # fmt: skip
    return cluster.service_account_kubeconfig(work / "operator.kubeconfig", OPERATOR_NS, OPERATOR_SA)


def run(n: int, namespaces: int, interval: str, timeout: float, idle: float) -> Figures:
    work = Path(tempfile.mkdtemp(prefix=f"scale-{n}-"))
    counters = HealthyCounters()
    registry = CollectorRegistry()
    registry.register(counters)
    port = free_port()
    start_http_server(port, addr="127.0.0.1", registry=registry)
    # A kwok node takes 250 pods; during a canary both versions of every Rollout run.
    nodes = 1 + (2 * n) // 200
    with (
        LocalCluster(work / "cluster", nodes=nodes) as cluster,
        LocalPrometheus(work / "prometheus", scrape_interval="2s") as prom,
    ):
        cluster.kubectl("apply", "--server-side", "--field-manager=bench", "-f", str(ROOT / "crds"))
        cluster.wait_crds_established(*(resource.name for resource in RESOURCES))
        prom.add_target(f"127.0.0.1:{port}", {})
        kubeconfig = install_operator_identity(cluster, work)
        api = cluster.api_client()
        core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
        spaces = [f"fleet-{index}" for index in range(namespaces)]
        for space in spaces:
            core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=space)))
        names = [(spaces[index % namespaces], f"m{index:04d}") for index in range(n)]
        counters.rollouts = names
        fleet = Fleet(api)
        fleet.start()
        operator = OperatorProcess(kubeconfig, work / "operator.log", prometheus_url=prom.url).start()
        try:
            assert operator.process is not None
            pid = operator.process.pid
            time.sleep(3)
            operator.check_running()

            def create(key: tuple[str, str]) -> None:
                namespace, name = key
                for version in (V1, V2):
                    body = model_version(name, version)
                    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "modelversions", body)
                custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "rollouts", rollout(name, interval))

            cpu0, t0 = cpu_seconds(pid), time.monotonic()
            fan_out(names, create)
            created = fleet.wait_all(names, V1, timeout)
            create_cpu = cpu_seconds(pid) - cpu0
            create_s = max(created.values()) - t0 if len(created) == n else None
            print(f"  N={n}: {len(created)} Healthy on {V1} after {time.monotonic() - t0:.0f}s", flush=True)
            time.sleep(5)

            patched: dict[tuple[str, str], float] = {}

            def retarget(key: tuple[str, str]) -> None:
                namespace, name = key
                patched[key] = time.monotonic()
                body = {"spec": {"targetVersion": f"{name}-{SUFFIX[V2]}"}}
                custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, "rollouts", name, body)

            queries0, cpu1, wall1, t1 = prometheus_queries(prom), cpu_seconds(pid), time.time(), time.monotonic()
            with PeakRss(pid) as rss:
                fan_out(names, retarget)
                completed = fleet.wait_all(names, V2, timeout)
            wall2, t2 = time.time(), time.monotonic()
            update_cpu, queries = cpu_seconds(pid) - cpu1, prometheus_queries(prom) - queries0
            complete_s = max(completed.values()) - t1 if len(completed) == n else None
            print(f"  N={n}: {len(completed)} Healthy on {V2} after {t2 - t1:.0f}s", flush=True)
            first_writes = [
                seen - patched[(namespace, name)]
                for (namespace, name, version), seen in fleet.deployment_seen.items()
                if version == V2 and (namespace, name) in patched
            ]

            time.sleep(5)
            cpu2, wall3 = cpu_seconds(pid), time.time()
            time.sleep(idle)
            idle_cpu, wall4 = cpu_seconds(pid) - cpu2, time.time()
            time.sleep(2)  # the audit log is written as requests complete
            update_requests = audit_requests(cluster, wall1, wall2)
            idle_requests = audit_requests(cluster, wall3, wall4)
        finally:
            fleet.stopping = True
            operator.stop()
    reads = sum(count for kind, count in update_requests.items() if kind.split()[0] in READ_VERBS)
    writes = sum(update_requests.values()) - reads
    ticks = max((t2 - t1) / float(interval.rstrip("s")), 1.0)
    return Figures(
        n=n,
        create_s=create_s,
        create_cpu_s=create_cpu,
        created=len(created),
        complete_s=complete_s,
        completed=len(completed),
        update_cpu_s=update_cpu,
        peak_rss_mib=rss.peak,
        first_write_p50_s=percentile(first_writes, 0.5),
        first_write_p99_s=percentile(first_writes, 0.99),
        reads_per_rollout=reads / n,
        writes_per_rollout=writes / n,
        requests_by_kind=update_requests,
        queries_per_tick=queries / ticks,
        idle_cpu_per_min=idle_cpu / idle * 60,
        idle_requests_per_s=sum(idle_requests.values()) / idle,
        idle_requests_by_kind=idle_requests,
    )


def show(figures: Figures) -> None:
    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}s"

    steps = len(STEPS)
    print(f"\nN = {figures.n} canaries ({figures.created} created, {figures.completed} completed)")
    print(f"  create: all Healthy in {seconds(figures.create_s)}, operator CPU {figures.create_cpu_s:.1f}s")
    print(f"  update: all complete in {seconds(figures.complete_s)}, operator CPU {figures.update_cpu_s:.1f}s, "
          f"peak RSS {figures.peak_rss_mib:.0f} MiB")  # fmt: skip
    print(f"  spec change -> new Deployment: p50 {seconds(figures.first_write_p50_s)}, "
          f"p99 {seconds(figures.first_write_p99_s)}")  # fmt: skip
    print(f"  operator API requests per rollout: {figures.reads_per_rollout:.1f} reads, "
          f"{figures.writes_per_rollout:.1f} writes ({figures.reads_per_rollout / steps:.1f} / "
          f"{figures.writes_per_rollout / steps:.1f} per step)")  # fmt: skip
    for kind, count in figures.requests_by_kind.most_common():
        print(f"    {kind:<45} {count / figures.n / steps:7.2f} per rollout-step")
    print(f"  Prometheus queries per analysis tick: {figures.queries_per_tick:.0f} ({figures.n} rollouts)")
    print(f"  idle: {figures.idle_cpu_per_min:.2f} CPU-s per minute, {figures.idle_requests_per_s:.2f} API requests/s")
    for kind, count in figures.idle_requests_by_kind.most_common(6):
        print(f"    {kind:<45} {count}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[100, 300, 1000], help="fleet sizes, one run each")
    parser.add_argument("--namespaces", type=int, default=5)
    parser.add_argument("--interval", default="10s", help="analysis interval of every Rollout")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for each phase")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle measured at the end")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    results = []
    for n in args.n:
        figures = run(n, args.namespaces, args.interval, args.timeout, args.idle)
        show(figures)
        results.append(figures)
    if args.json:
        args.json.write_text(json.dumps([vars(f) for f in results], default=str, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
