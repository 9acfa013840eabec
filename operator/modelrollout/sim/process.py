"""Running the simulator as a child process and steering it over HTTP."""

from __future__ import annotations

import json
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from modelrollout.devenv.processes import ManagedProcess, ProcessFailedError, free_port, wait_until
from modelrollout.sim.params import SimParams


class SimulatorProcess:
    """`python -m modelrollout.sim` on a free loopback port.

    Initial parameters are SimParams fields, as `params` and/or keywords (error_rate=0.2, rps=100).
    """

    def __init__(
        self,
        rollout: str,
        version: str,
        *,
        namespace: str = "default",
        port: int | None = None,
        seed: int | None = None,
        log_dir: Path | None = None,
        die_with_parent: bool = True,
        params: Mapping[str, float] | None = None,
        **overrides: float,
    ) -> None:
        self.rollout = rollout
        self.version = version
        self.namespace = namespace
        self.port = port or free_port()
        self.seed = seed
        # Validated here, so a typo fails in the test rather than in the child process.
        self.initial_params = SimParams().updated({**(params or {}), **overrides})
        self.log_dir = log_dir or Path(tempfile.gettempdir()) / "modelrollout-sim"
        self.die_with_parent = die_with_parent
        self._process: ManagedProcess | None = None

    @property
    def address(self) -> str:
        """host:port, as a Prometheus scrape target."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def labels(self) -> dict[str, str]:
        """The target labels a PodMonitor would attach to this version's pods."""
        return {"rollout": self.rollout, "version": self.version, "namespace": self.namespace}

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("simulator not started")
        return self._process.pid

    def command(self) -> list[str]:
        argv = [
            sys.executable, "-m", "modelrollout.sim",
            "--port", str(self.port), "--rollout", self.rollout, "--version", self.version,
        ]  # fmt: skip
        if self.seed is not None:
            argv += ["--seed", str(self.seed)]
        for name, value in self.initial_params.as_dict().items():
            argv += [f"--{name.replace('_', '-')}", repr(value)]
        return argv

    def start(self, timeout: float = 20.0) -> SimulatorProcess:
        log = self.log_dir / f"{self.rollout}-{self.version}-{self.port}.log"
        self._process = ManagedProcess(
            f"sim {self.rollout}/{self.version}", self.command(), log, die_with_parent=self.die_with_parent
        ).start()
        try:
            wait_until(self._healthy, timeout=timeout, what=f"{self.url}/healthz", alive=self._process.check_running)
        except TimeoutError as exc:
            self.stop()
            raise ProcessFailedError(f"{exc}\n{self._process.describe_log()}") from None
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop(timeout=5.0)

    def detach(self) -> None:
        if self._process is not None:
            self._process.detach()

    def __enter__(self) -> SimulatorProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def get(self) -> dict[str, float]:
        """The parameters in force now."""
        params: dict[str, float] = self._call("GET", "/control")["params"]
        return params

    def set(self, **changes: float) -> dict[str, float]:
        """Changes parameters at run time; returns all parameters after the change."""
        params: dict[str, float] = self._call("POST", "/control", changes)["params"]
        return params

    def predict(self) -> dict[str, Any]:
        """One real request, as a client would send it (errors come back as outcome=error)."""
        result: dict[str, Any] = self._call("POST", "/predict", {}, accept_error=True)
        return result

    def _healthy(self) -> bool:
        return bool(self._call("GET", "/healthz", timeout=1.0)["status"] == "ok")

    def _call(
        self, method: str, path: str, body: Any = None, *, accept_error: bool = False, timeout: float = 15.0
    ) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            payload = exc.read()
            if accept_error and exc.code == 500:
                return json.loads(payload)
            raise RuntimeError(
                f"{method} {self.url}{path}: HTTP {exc.code}: {payload.decode(errors='replace')}"
            ) from None
