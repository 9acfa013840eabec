"""How long from a canary going bad to the stable Service serving only the stable version again.

Runs N canary rollouts on a real local control plane with a real Prometheus scraping simulated
model servers. Each rollout holds at weight 50 % (both versions behind the stable Service, background
analysis of errorRate and latencyP95 running); then the canary's error rate is flipped from 0.5 % to
20 %, and the stable Service's selector is polled every 50 ms until it selects only the stable
version. Prints every run, the median and the maximum, next to the target
"analysis interval + scrape interval + 2 s".

    .venv/bin/python bench/rollback_latency.py --runs 5

Each run uses a fresh namespace. Nothing is asserted: these are figures, not a test. The Rollouts
keep the default spec.rollbackPolicy (minReadyPercent 100): the time includes the stable version's
scale back from 50 % to full size, which kwok makes ready at once; real model servers would add
their load time here, during which the candidate keeps serving its share.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client

from modelrollout.analysis.templates import TemplateValues, render
from modelrollout.api.common import GROUP, VERSION, parse_duration
from modelrollout.api.crd import RESOURCES
from modelrollout.api.labels import ROLLOUT_LABEL, VERSION_LABEL
from modelrollout.api.presets import PRESETS
from modelrollout.devenv import LocalCluster, LocalPrometheus, wait_until
from modelrollout.devenv.manifests import canary_rollout, model_version
from modelrollout.devenv.operator import OperatorProcess
from modelrollout.sim import SimulatorFleet

ROOT = Path(__file__).resolve().parents[1]
ROLLOUT = "bench"
STABLE, CANDIDATE = "2.3.1", "2.4.0"
BAD_ERROR_RATE = 0.2
POLL_SECONDS = 0.05
TIMEOUT_SECONDS = 60
ERROR_RATE_MAX = PRESETS["errorRate"].max or 0.05


@dataclass(frozen=True)
class Run:
    restored: float  # flip -> the stable Service selects only the stable version (s)
    crossed: float | None  # flip -> the errorRate query, run by the bench, first above the threshold (s)
    message: str


def install_crds(cluster: LocalCluster) -> None:
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=bench", "-f", str(ROOT / "crds"))
    cluster.wait_crds_established(*(resource.name for resource in RESOURCES))


def rollout(target: str, prometheus_url: str, interval: str, window: str) -> dict[str, Any]:
    """Holds at weight 50 % with background analysis of errorRate and latencyP95."""
    analysis = {
        "interval": interval,
        "window": window,
        "metrics": [
            {"name": "error-rate", "preset": "errorRate"},
            {"name": "latency-p95", "preset": "latencyP95"},
        ],
    }
    return canary_rollout(ROLLOUT, target, [{"setWeight": 50}, {"pause": {}}], analysis=analysis)


class Bench:
    def __init__(
        self, cluster: LocalCluster, prometheus: LocalPrometheus, fleet: SimulatorFleet, interval: str, window: str
    ):
        self.prometheus = prometheus
        self.fleet = fleet
        self.interval = interval
        self.window = window
        api = cluster.api_client()
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)
        self.custom = client.CustomObjectsApi(api)

    def status(self, namespace: str) -> dict[str, Any]:
        obj: dict[str, Any] = self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "rollouts", ROLLOUT)  # type: ignore[assignment]
        return obj.get("status") or {}

    def wait_status(self, namespace: str, what: str, predicate: Any, timeout: float = 120) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            status = self.status(namespace)
            return status if predicate(status) else None

        return wait_until(check, timeout=timeout, what=what, interval=0.2)

    def selected(self, namespace: str) -> str | None:
        spec = self.core.read_namespaced_service(ROLLOUT, namespace).spec
        selector = (spec.selector if spec else None) or {}
        return str(selector.get(VERSION_LABEL, "*"))

    def replicas(self, namespace: str) -> dict[str, tuple[int, int]]:
        deployments = self.apps.list_namespaced_deployment(namespace, label_selector=f"{ROLLOUT_LABEL}={ROLLOUT}")
        return {
            (d.metadata.labels or {}).get(VERSION_LABEL, "?") if d.metadata else "?": (
                (d.spec.replicas or 0) if d.spec else 0,
                (d.status.ready_replicas or 0) if d.status else 0,
            )
            for d in deployments.items
        }

    def run(self, index: int) -> Run:
        namespace = f"bench-{index}-{secrets.token_hex(3)}"
        self.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
        wait_until(
            lambda: self.core.read_namespaced_service_account("default", namespace), timeout=30, what="ServiceAccount"
        )
        stable = self.fleet.start(ROLLOUT, STABLE, namespace=namespace, error_rate=0.005, rps=40)
        canary = self.fleet.start(ROLLOUT, CANDIDATE, namespace=namespace, error_rate=0.005, rps=40)
        try:
            for name, version in (("sa-2-3-1", STABLE), ("sa-2-4-0", CANDIDATE)):
                self.custom.create_namespaced_custom_object(
                    GROUP, VERSION, namespace, "modelversions", model_version(name, version)
                )
            self.custom.create_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                "rollouts",
                rollout("sa-2-3-1", self.prometheus.url, self.interval, self.window),
            )
            self.wait_status(namespace, "stable healthy", lambda s: s.get("phase") == "Healthy")
            for sim in (stable, canary):
                self.prometheus.wait_for_target_up(sim.address)
            self.custom.patch_namespaced_custom_object(
                GROUP, VERSION, namespace, "rollouts", ROLLOUT, {"spec": {"targetVersion": "sa-2-4-0"}}
            )

            def holding(status: dict[str, Any]) -> bool:
                tallies = {t["metric"]: t for t in (status.get("analysis") or {}).get("tallies", [])}
                return (
                    status.get("phase") == "Paused"
                    and status.get("canaryWeight") == 50
                    and tallies.get("error-rate", {}).get("lastVerdict") == "pass"
                )

            self.wait_status(namespace, "holding at 50 % with analysis passing", holding)
            if self.selected(namespace) != "*":
                raise RuntimeError(f"expected both versions behind the stable Service, status {self.status(namespace)}")

            query = render(
                PRESETS["errorRate"].query,
                TemplateValues(
                    rollout=ROLLOUT,
                    namespace=namespace,
                    model="support-agent",
                    version=CANDIDATE,
                    window=self.window,
                    stable_version=STABLE,
                ),
            )
            flipped = time.monotonic()
            canary.set(error_rate=BAD_ERROR_RATE)
            # Poll the Service and, alongside, the errorRate query itself: the moment Prometheus' data
            # crosses the threshold splits the latency into "the window saw it" and "the operator acted".
            crossed: float | None = None
            deadline = flipped + TIMEOUT_SECONDS
            while self.selected(namespace) != STABLE:
                now = time.monotonic()
                if now > deadline:
                    status = self.status(namespace)
                    raise TimeoutError(
                        f"stable Service not back on {STABLE} {TIMEOUT_SECONDS}s after the flip: phase "
                        f"{status.get('phase')}, canaryWeight {status.get('canaryWeight')}, "
                        f"message {status.get('message')!r}, replicas (spec, ready) {self.replicas(namespace)}"
                    )
                if crossed is None and (self.prometheus.query_scalar(query) or 0.0) > ERROR_RATE_MAX:
                    crossed = now - flipped
                time.sleep(POLL_SECONDS)
            restored = time.monotonic() - flipped
            status = self.wait_status(namespace, "rolled back", lambda s: s.get("phase") == "RolledBack")
            return Run(restored=restored, crossed=crossed, message=status.get("message", ""))
        finally:
            self.fleet.stop(stable)
            self.fleet.stop(canary)
            self.core.delete_namespace(namespace)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--interval", default="2s", help="spec.analysis.interval")
    parser.add_argument("--window", default="10s", help="spec.analysis.window (the presets' rate window)")
    parser.add_argument("--scrape-interval", default="1s", help="Prometheus scrape interval")
    args = parser.parse_args(argv)

    interval, scrape = parse_duration(args.interval), parse_duration(args.scrape_interval)
    target = interval + scrape + 2
    log_dir = Path(tempfile.mkdtemp(prefix="modelrollout-bench-"))
    print(f"analysis interval {args.interval}, window {args.window}, scrape interval {args.scrape_interval}")
    print(f"target: interval + scrape interval + 2 s = {target:g} s; logs in {log_dir}", flush=True)

    runs: list[Run] = []
    failures: list[str] = []
    with (
        LocalCluster() as cluster,
        LocalPrometheus(scrape_interval=args.scrape_interval) as prometheus,
    ):
        install_crds(cluster)
        fleet = SimulatorFleet(prometheus, log_dir=log_dir / "simulators")
        with OperatorProcess(cluster.kubeconfig_path, log_dir / "operator.log", prometheus_url=prometheus.url):
            bench = Bench(cluster, prometheus, fleet, args.interval, args.window)
            for index in range(1, args.runs + 1):
                try:
                    run = bench.run(index)
                except TimeoutError as error:
                    failures.append(f"run {index}: {error}")
                    print(f"run {index}: FAILED: {error}", flush=True)
                    continue
                runs.append(run)
                crossed = f"{run.crossed:5.2f} s" if run.crossed is not None else "   n/a"
                print(
                    f"run {index}: restored after {run.restored:5.2f} s "
                    f"(the data crossed the threshold after {crossed}): {run.message}",
                    flush=True,
                )
        fleet.stop_all()

    if not runs:
        print("no run completed")
        return 1
    restored = [run.restored for run in runs]
    median, worst = statistics.median(restored), max(restored)
    crossings = [run.crossed for run in runs if run.crossed is not None]
    acted = [run.restored - run.crossed for run in runs if run.crossed is not None]
    print(
        f"\nflip -> stable Service on {STABLE} only, over {len(runs)} runs: median {median:.2f} s, max {worst:.2f} s "
        f"(target {target:g} s: the median {'meets' if median <= target else 'misses'} it, "
        f"the max {'meets' if worst <= target else 'misses'} it)"
    )
    if crossings:
        print(
            f"  the {args.window}-window error rate crossed {ERROR_RATE_MAX:g} after a median "
            f"{statistics.median(crossings):.2f} s; "
            f"the operator after that: median {statistics.median(acted):.2f} s, max {max(acted):.2f} s"
        )
    if failures:
        print(f"{len(failures)} run(s) failed:", *failures, sep="\n  ")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
