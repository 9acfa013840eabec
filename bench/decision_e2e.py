"""Healthy and bad canaries end to end: the real operator, a real Prometheus, simulated model servers.

Runs N healthy candidates (1 % errors, like the stable version) and N bad ones (20 % errors),
alternating, each through the demo's canary steps (20 % -> 5 s pause -> analysis of error-rate and
latency-p95 -> 60 % -> 5 s pause -> analysis with cost-per-request as well -> promote), analysis every
2 s, 1 s scrapes. Prints each rollout's outcome and the time from the new target to the decision, then
how many healthy candidates were promoted and bad ones rolled back.

    .venv/bin/python bench/decision_e2e.py --rollouts 20

Figures, not a test: nothing is asserted. Each rollout uses a fresh namespace.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kubernetes import client

from modelrollout.api.common import GROUP, VERSION
from modelrollout.api.crd import RESOURCES
from modelrollout.devenv import LocalCluster, LocalPrometheus, wait_until
from modelrollout.devenv.manifests import canary_rollout, model_version
from modelrollout.devenv.operator import OperatorProcess
from modelrollout.sim import SimulatorFleet

ROOT = Path(__file__).resolve().parents[1]
ROLLOUT = "bench"
STABLE, CANDIDATE = "2.3.1", "2.4.0"
STEPS: list[dict[str, Any]] = [
    {"setWeight": 20},
    {"pause": {"duration": "5s"}},
    {"analysis": {"metrics": ["error-rate", "latency-p95"]}},
    {"setWeight": 60},
    {"pause": {"duration": "5s"}},
    {"analysis": {"metrics": ["error-rate", "latency-p95", "cost-per-request"]}},
]
TIMEOUT_SECONDS = 180


def analysis(prometheus_url: str) -> dict[str, Any]:
    return {
        "interval": "2s",
        "window": "10s",
        "metrics": [
            {"name": "error-rate", "preset": "errorRate"},
            {"name": "latency-p95", "preset": "latencyP95"},
            {"name": "cost-per-request", "preset": "costPerRequest"},
        ],
    }


def run(
    index: int, bad: bool, cluster: LocalCluster, prometheus: LocalPrometheus, fleet: SimulatorFleet
) -> tuple[str, float, str]:
    api = cluster.api_client()
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    namespace = f"e2e-{index}-{secrets.token_hex(3)}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    wait_until(lambda: core.read_namespaced_service_account("default", namespace), timeout=30, what="ServiceAccount")
    sims = [
        fleet.start(ROLLOUT, STABLE, namespace=namespace, error_rate=0.01, latency_ms=120, rps=40),
        fleet.start(ROLLOUT, CANDIDATE, namespace=namespace, error_rate=0.2 if bad else 0.01, latency_ms=110, rps=40),
    ]

    def status() -> dict[str, Any]:
        obj: dict[str, Any] = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "rollouts", ROLLOUT)  # type: ignore[assignment]
        return obj.get("status") or {}

    try:
        for name, version in (("sa-2-3-1", STABLE), ("sa-2-4-0", CANDIDATE)):
            custom.create_namespaced_custom_object(
                GROUP, VERSION, namespace, "modelversions", model_version(name, version)
            )
        body = canary_rollout(ROLLOUT, "sa-2-3-1", STEPS, analysis=analysis(prometheus.url))
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "rollouts", body)
        wait_until(lambda: status().get("phase") == "Healthy" or None, timeout=60, what="stable healthy")
        for sim in sims:
            prometheus.wait_for_target_up(sim.address)
        started = time.monotonic()
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, "rollouts", ROLLOUT, {"spec": {"targetVersion": "sa-2-4-0"}}
        )
        while time.monotonic() - started < TIMEOUT_SECONDS:
            now = status()
            if now.get("phase") == "RolledBack":
                return "rolled back", time.monotonic() - started, now.get("message", "")
            if now.get("phase") == "Healthy" and now.get("stableVersion") == "sa-2-4-0":
                return "promoted", time.monotonic() - started, ""
            time.sleep(0.2)
        return "undecided", TIMEOUT_SECONDS, str(status().get("message"))
    finally:
        for sim in sims:
            fleet.stop(sim)
        core.delete_namespace(namespace)
        api.close()  # type: ignore[no-untyped-call]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rollouts", type=int, default=20, help="healthy rollouts, and as many bad ones")
    args = parser.parse_args(argv)
    log_dir = Path(tempfile.mkdtemp(prefix="modelrollout-e2e-"))
    print(f"{args.rollouts} healthy (1 % errors) and {args.rollouts} bad (20 % errors) canaries; logs in {log_dir}")
    results: dict[bool, list[tuple[str, float]]] = {False: [], True: []}
    with LocalCluster() as cluster, LocalPrometheus(scrape_interval="1s") as prometheus:
        cluster.kubectl("apply", "--server-side", "-f", str(ROOT / "crds"))
        names = [f"crd/{resource.name}" for resource in RESOURCES]
        cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", *names, timeout=90)
        fleet = SimulatorFleet(prometheus, log_dir=log_dir / "simulators")
        with OperatorProcess(cluster.kubeconfig_path, log_dir / "operator.log", prometheus_url=prometheus.url):
            for index in range(2 * args.rollouts):
                bad = index % 2 == 1
                outcome, seconds, message = run(index, bad, cluster, prometheus, fleet)
                results[bad].append((outcome, seconds))
                kind = "bad    " if bad else "healthy"
                print(f"run {index + 1:2d} {kind}: {outcome:<11} after {seconds:5.1f} s  {message}", flush=True)
        fleet.stop_all()
    for bad, label, right in ((False, "healthy", "promoted"), (True, "bad", "rolled back")):
        runs = results[bad]
        times = [seconds for outcome, seconds in runs if outcome == right]
        wrong = {kind: sum(outcome == kind for outcome, _ in runs) for kind in ("promoted", "rolled back", "undecided")}
        median = f"median {statistics.median(times):.1f} s" if times else "-"
        print(f"{label}: {len(times)}/{len(runs)} {right} ({median} from the new target); outcomes {wrong}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
