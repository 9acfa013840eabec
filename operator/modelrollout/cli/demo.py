"""`modelrollout demo`: the whole product on one machine, narrated.

Starts a local control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
kwok), Prometheus, one simulated model server per version and the operator; then applies the
example ModelVersions and a canary Rollout and prints every transition while
1. support-agent 2.3.1 becomes the first stable version,
2. 2.4.0 (healthy) goes through canary steps with analysis gates and is promoted,
3. 2.5.0 (20 % errors) is rolled back by analysis.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from rich.console import Console

from modelrollout.api.common import GROUP, VERSION
from modelrollout.cli.view import status_view, transition_line
from modelrollout.devenv import LocalCluster, LocalPrometheus
from modelrollout.devenv.binaries import repo_root
from modelrollout.devenv.operator import OperatorProcess
from modelrollout.sim import SimulatorFleet

NAMESPACE = "demo"
ROLLOUT = "support-agent"
STEP_TIMEOUT_SECONDS = 240


def _examples_dir() -> Path:
    root = repo_root()
    if root is None or not (root / "examples").is_dir():
        raise SystemExit("the demo runs from a checkout of the repository (it applies examples/)")
    return root


def _load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def demo_rollout(example: dict[str, Any], target: str) -> dict[str, Any]:
    """The example canary Rollout with timings short enough to watch."""
    rollout = copy.deepcopy(example)
    rollout["metadata"] = {"name": ROLLOUT, "namespace": NAMESPACE}
    spec = rollout["spec"]
    spec["targetVersion"] = target
    spec["replicas"] = 5
    spec["strategy"]["canary"]["steps"] = [
        {"setWeight": 20},
        {"pause": {"duration": "5s"}},
        {"analysis": {"metrics": ["error-rate", "latency-p95"]}},
        {"setWeight": 60},
        {"pause": {"duration": "5s"}},
        {"analysis": {"metrics": ["error-rate", "latency-p95", "cost-per-request"]}},
    ]
    spec["strategy"]["canary"]["scaleDownDelaySeconds"] = 5
    analysis = spec["analysis"]
    analysis.update({"interval": "2s", "window": "10s"})
    analysis.pop("prometheus", None)  # the operator's default: the local Prometheus
    analysis["metrics"] = [m for m in analysis["metrics"] if m.get("preset")]
    return rollout


def _next_version(model_version: dict[str, Any], name: str, version: str) -> dict[str, Any]:
    derived = copy.deepcopy(model_version)
    derived["metadata"] = {"name": name, "namespace": NAMESPACE}
    derived["spec"]["version"] = version
    derived["spec"]["parentVersion"] = model_version["spec"]["version"]
    derived["spec"]["description"] = "Longer context window; this build has a bug that fails 20 % of requests."
    for container in derived["spec"]["template"]["spec"]["containers"]:
        container["image"] = container["image"].rsplit(":", 1)[0] + f":{version}"
    return derived


class UnexpectedEndError(Exception):
    """The rollout ended in a phase other than the one the demo waits for."""

    def __init__(self, rollout: dict[str, Any]) -> None:
        status = rollout.get("status") or {}
        super().__init__(f"the rollout ended in phase {status.get('phase')}: {status.get('message')}")
        self.rollout = rollout


def _rolled_back_or_degraded(status: dict[str, Any]) -> bool:
    """A rollout that was meant to be promoted ended otherwise (both phases stay until the spec changes)."""
    return status.get("phase") in ("RolledBack", "Degraded")


def _promoted(version: str) -> Callable[[dict[str, Any]], bool]:
    """The rollout of `version` ended in promotion (or is stuck Degraded): a bad version must not."""

    def check(status: dict[str, Any]) -> bool:
        if status.get("phase") == "Degraded":
            return True
        return status.get("phase") == "Healthy" and status.get("stableVersion") == version

    return check


class Narrator:
    """Prints each Rollout transition once, with the time since the demo began."""

    def __init__(self, console: Console, custom: client.CustomObjectsApi) -> None:
        self.console = console
        self.custom = custom
        self.started = time.monotonic()
        self.last = ""

    def say(self, text: str, style: str = "bold cyan") -> None:
        self.console.print(f"[{style}]{text}[/{style}]")

    def rollout(self) -> dict[str, Any]:
        obj: dict[str, Any] = self.custom.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "rollouts", ROLLOUT)  # type: ignore[assignment]
        return obj

    def follow(
        self,
        until: Callable[[dict[str, Any]], bool],
        timeout: float = STEP_TIMEOUT_SECONDS,
        wrong_end: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """Print transitions until `until` holds; raise UnexpectedEndError at once when `wrong_end` does."""
        deadline = time.monotonic() + timeout
        while True:
            rollout = self.rollout()
            line = transition_line(rollout)
            if line != self.last:
                self.console.print(f"  [dim]{time.monotonic() - self.started:6.1f}s[/dim]  {line}")
                self.last = line
            status = rollout.get("status") or {}
            if until(status):
                return rollout
            if wrong_end is not None and wrong_end(status):
                raise UnexpectedEndError(rollout)
            if time.monotonic() > deadline:
                raise TimeoutError(f"the rollout did not get there in {timeout:.0f}s: {line}")
            time.sleep(0.3)


def run_demo(console: Console, keep: bool = False) -> int:
    root = _examples_dir()
    examples = root / "examples"
    stable_mv = _load(examples / "modelversion-2.3.1.yaml")
    good_mv = _load(examples / "modelversion-2.4.0.yaml")
    bad_mv = _next_version(good_mv, "support-agent-2-5-0", "2.5.0")
    work = Path(tempfile.mkdtemp(prefix="modelrollout-demo-"))

    console.rule("ModelRollout demo")
    console.print("Starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok and Prometheus...")
    with LocalCluster(work / "cluster") as cluster, LocalPrometheus(work / "prometheus", scrape_interval="1s") as prom:
        console.print(f"  cluster ready: export KUBECONFIG={cluster.kubeconfig_path}")
        console.print(f"  Prometheus: {prom.url}")
        cluster.kubectl("apply", "--server-side", "-f", str(root / "crds"))
        cluster.wait_crds_established("rollouts.modelrollout.io", "modelversions.modelrollout.io")
        cluster.kubectl("create", "namespace", NAMESPACE)

        fleet = SimulatorFleet(prom, log_dir=work / "simulators")
        operator = OperatorProcess(
            cluster.kubeconfig_path, work / "operator.log", namespaces=[NAMESPACE], prometheus_url=prom.url
        )
        try:
            console.print(
                "Simulated model servers: 2.3.1 (1 % errors), 2.4.0 (1 % errors, faster), 2.5.0 (20 % errors)"
            )
            fleet.start(ROLLOUT, "2.3.1", namespace=NAMESPACE, error_rate=0.01, latency_ms=120, rps=40)
            fleet.start(ROLLOUT, "2.4.0", namespace=NAMESPACE, error_rate=0.01, latency_ms=100, rps=40)
            bad = fleet.start(ROLLOUT, "2.5.0", namespace=NAMESPACE, error_rate=0.01, latency_ms=110, rps=40)
            operator.start()
            console.print(f"Operator started (log: {operator.log_path})")
            console.print(f"Watch along: KUBECONFIG={cluster.kubeconfig_path} kubectl get mro,mv -n {NAMESPACE} -w")
            result = _story(console, cluster, bad, stable_mv, good_mv, bad_mv, examples, keep)
        except TimeoutError as error:
            console.print(f"[bold red]{error}[/bold red]")
            result = 1
        except UnexpectedEndError as error:
            console.print(f"[bold red]Demo failed: {error}[/bold red]")
            console.print(status_view(error.rollout))
            result = 1
        finally:
            operator.stop()
            fleet.stop_all()
    if result == 0:
        shutil.rmtree(work, ignore_errors=True)
    else:
        console.print(f"Logs of every component are kept in {work}")
    return result


def _story(
    console: Console,
    cluster: LocalCluster,
    bad: Any,
    stable_mv: dict[str, Any],
    good_mv: dict[str, Any],
    bad_mv: dict[str, Any],
    examples: Path,
    keep: bool,
) -> int:
    api_client = cluster.api_client()
    custom = client.CustomObjectsApi(api_client)
    narrator = Narrator(console, custom)

    def create(plural: str, body: dict[str, Any]) -> None:
        body = {**body, "metadata": {**body["metadata"], "namespace": NAMESPACE}}
        custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, plural, body)

    for model_version in (stable_mv, good_mv, bad_mv):
        create("modelversions", model_version)
    example_rollout = _load(examples / "rollout-canary.yaml")

    narrator.say("1. First version: support-agent 2.3.1 serves all traffic")
    create("rollouts", demo_rollout(example_rollout, "support-agent-2-3-1"))
    narrator.follow(lambda s: s.get("phase") == "Healthy" and s.get("stableVersion") == "support-agent-2-3-1")

    narrator.say("2. Canary of 2.4.0: 20 % -> pause -> analysis -> 60 % -> pause -> analysis -> promote")
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, "rollouts", ROLLOUT, {"spec": {"targetVersion": "support-agent-2-4-0"}}
    )
    narrator.follow(
        lambda s: s.get("phase") == "Healthy" and s.get("stableVersion") == "support-agent-2-4-0",
        wrong_end=_rolled_back_or_degraded,
    )

    narrator.say("3. Canary of 2.5.0, which fails 20 % of requests once it gets traffic: analysis rolls it back")
    bad.set(error_rate=0.2)
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, "rollouts", ROLLOUT, {"spec": {"targetVersion": "support-agent-2-5-0"}}
    )
    final = narrator.follow(lambda s: s.get("phase") == "RolledBack", wrong_end=_promoted("support-agent-2-5-0"))

    console.rule("Result")
    console.print(status_view(final))
    stages = {
        item["metadata"]["name"]: (item.get("status") or {}).get("stage")
        for item in custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, "modelversions")["items"]  # type: ignore[index]
    }
    console.print("Model registry (ModelVersion status.stage):")
    for name, stage in sorted(stages.items()):
        console.print(f"  {name}: {stage}")
    expected = {
        "support-agent-2-3-1": "deprecated",
        "support-agent-2-4-0": "production",
        "support-agent-2-5-0": "rejected",
    }
    ok = stages == expected and (final.get("status") or {}).get("stableVersion") == "support-agent-2-4-0"
    narrator.say(
        "Demo finished: 2.4.0 promoted, 2.5.0 rejected." if ok else "Demo ended in an unexpected state.",
        style="bold green" if ok else "bold red",
    )
    if keep:
        console.print("Everything keeps running; press Ctrl-C to stop.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    api_client.close()  # type: ignore[no-untyped-call]
    return 0 if ok else 1
