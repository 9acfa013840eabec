"""A detached local environment for humans (`modelrollout dev up` / `dev down`).

Everything lives in a state directory: the cluster's and Prometheus' work dirs, and
`state.json` with the kubeconfig path, the Prometheus URL and the pid of every process, so a
later `down()` from another shell can stop them.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from modelrollout.devenv.controlplane import LocalCluster
from modelrollout.devenv.processes import pid_running, stop_pid_group
from modelrollout.devenv.prometheus import LocalPrometheus, TargetsFile

if TYPE_CHECKING:
    from modelrollout.sim.process import SimulatorProcess

DEFAULT_STATE_DIR = Path.home() / ".cache" / "modelrollout" / "dev"
STATE_FILE = "state.json"


@dataclass
class DevEnvironment:
    state_dir: str
    kubeconfig: str
    server: str
    prometheus_url: str
    targets_file: str
    # name -> [pid, a string its command line must contain], in start order.
    processes: dict[str, tuple[int, str]] = field(default_factory=dict)

    def save(self) -> None:
        (Path(self.state_dir) / STATE_FILE).write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, state_dir: Path) -> DevEnvironment | None:
        try:
            raw = json.loads((state_dir / STATE_FILE).read_text())
        except FileNotFoundError:
            return None
        raw["processes"] = {name: (int(pid), str(marker)) for name, (pid, marker) in raw["processes"].items()}
        return cls(**raw)

    def alive(self) -> bool:
        return all(pid_running(pid) for pid, _ in self.processes.values())

    def start_simulator(
        self, rollout: str, version: str, namespace: str = "default", **params: float
    ) -> SimulatorProcess:
        """A detached simulator, registered as a Prometheus target and stopped by down()."""
        from modelrollout.sim.process import SimulatorProcess  # late: sim imports devenv

        simulator = SimulatorProcess(
            rollout,
            version,
            namespace=namespace,
            log_dir=Path(self.state_dir) / "simulators",
            die_with_parent=False,
            params=params,
        ).start()
        simulator.detach()
        TargetsFile(Path(self.targets_file)).add(simulator.address, simulator.labels)
        self.processes[f"sim-{namespace}-{rollout}-{version}-{simulator.port}"] = (
            simulator.pid,
            "modelrollout.sim",
        )
        self.save()
        return simulator


def up(state_dir: Path = DEFAULT_STATE_DIR) -> DevEnvironment:
    """Starts the control plane and Prometheus in the background (no-op if already up)."""
    existing = DevEnvironment.load(state_dir)
    if existing is not None and existing.alive():
        return existing
    down(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    cluster = LocalCluster(state_dir / "cluster", die_with_parent=False).start()
    try:
        prometheus = LocalPrometheus(state_dir / "prometheus", die_with_parent=False).start()
    except BaseException:
        cluster.stop()
        raise
    markers = {name: name for name in cluster.pids()}
    processes = {name: (pid, markers[name]) for name, pid in cluster.detach().items()}
    prometheus.detach()
    processes["prometheus"] = (prometheus.pid, "prometheus")
    environment = DevEnvironment(
        state_dir=str(state_dir),
        kubeconfig=str(cluster.kubeconfig_path),
        server=cluster.server,
        prometheus_url=prometheus.url,
        targets_file=str(prometheus.targets.path),
        processes=processes,
    )
    environment.save()
    return environment


def down(state_dir: Path = DEFAULT_STATE_DIR) -> bool:
    """Stops everything up() (and start_simulator()) started; returns whether anything ran."""
    environment = DevEnvironment.load(state_dir)
    stopped = False
    if environment is not None:
        for pid, marker in reversed(list(environment.processes.values())):
            stopped = stop_pid_group(pid, marker) or stopped
    if state_dir.exists():
        shutil.rmtree(state_dir, ignore_errors=True)
    return stopped
