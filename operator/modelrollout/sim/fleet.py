"""Several simulators at once, each registered as a scrape target while it runs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from modelrollout.sim.process import SimulatorProcess


class TargetRegistry(Protocol):
    """What the fleet needs from Prometheus (LocalPrometheus, or a TargetsFile wrapper)."""

    def add_target(self, address: str, labels: Mapping[str, str]) -> None: ...

    def remove_target(self, address: str) -> None: ...


class SimulatorFleet:
    def __init__(self, targets: TargetRegistry | None = None, log_dir: Path | None = None) -> None:
        self.targets = targets
        self.log_dir = log_dir
        self.running: list[SimulatorProcess] = []

    def start(
        self,
        rollout: str,
        version: str,
        *,
        namespace: str = "default",
        seed: int | None = None,
        register: bool = True,
        **params: float,
    ) -> SimulatorProcess:
        """Starts a simulator and (by default) lists it as a Prometheus target."""
        simulator = SimulatorProcess(
            rollout, version, namespace=namespace, seed=seed, log_dir=self.log_dir, params=params
        ).start()
        self.running.append(simulator)
        if register and self.targets is not None:
            self.targets.add_target(simulator.address, simulator.labels)
        return simulator

    def stop(self, simulator: SimulatorProcess) -> None:
        if self.targets is not None:
            self.targets.remove_target(simulator.address)
        simulator.stop()
        if simulator in self.running:
            self.running.remove(simulator)

    def stop_all(self) -> None:
        for simulator in reversed(list(self.running)):
            self.stop(simulator)
