"""The operator as a separate process, for end-to-end tests (which kill it) and the demo."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from modelrollout.devenv.processes import ManagedProcess


class OperatorProcess:
    """`modelrollout run` against a kubeconfig, logging to a file; can be killed and started again."""

    def __init__(
        self,
        kubeconfig: Path,
        log_path: Path,
        *,
        namespaces: Sequence[str] = (),
        prometheus_url: str | None = None,
        settings: Mapping[str, Any] | None = None,
        operator_namespace: str | None = None,
        extra_env: Mapping[str, str] | None = None,
        die_with_parent: bool = True,
        metrics_port: int | None = None,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.log_path = log_path
        self.namespaces = list(namespaces)
        self.prometheus_url = prometheus_url
        self.settings = dict(settings) if settings is not None else None
        self.operator_namespace = operator_namespace
        self.extra_env = dict(extra_env or {})
        self.die_with_parent = die_with_parent
        self.metrics_port = metrics_port
        self.process: ManagedProcess | None = None
        self.starts = 0

    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "modelrollout.cli.main", "run", "--kubeconfig", str(self.kubeconfig)]
        for namespace in self.namespaces:
            argv += ["--namespace", namespace]
        if self.settings is not None:
            # The settings file as the chart's ConfigMap would mount it.
            path = self.log_path.with_name(self.log_path.stem + "-settings.yaml")
            path.write_text(yaml.safe_dump(self.settings))
            argv += ["--settings", str(path)]
        if self.operator_namespace:
            argv += ["--operator-namespace", self.operator_namespace]
        if self.metrics_port is not None:
            argv += ["--metrics-port", str(self.metrics_port)]
        return argv

    def start(self) -> OperatorProcess:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        # Only --kubeconfig says which cluster: no $KUBECONFIG to fall back on, as in a fresh shell.
        for inherited in (
            "KUBECONFIG",
            "MODELROLLOUT_PROMETHEUS_URL",
            "MODELROLLOUT_SETTINGS",
            "MODELROLLOUT_METRICS_PORT",
            "POD_NAMESPACE",
        ):
            env.pop(inherited, None)
        if self.prometheus_url:
            env["MODELROLLOUT_PROMETHEUS_URL"] = self.prometheus_url
        env.update(self.extra_env)
        self.starts += 1
        self.process = ManagedProcess(
            "modelrollout-operator", self.argv(), self.log_path, env=env, die_with_parent=self.die_with_parent
        ).start()
        return self

    def kill(self) -> None:
        """SIGKILL: the operator gets no chance to clean up, as in a node failure or OOM kill."""
        if self.process is not None and self.process.running():
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.stop(timeout=5)
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
        self.process = None

    def running(self) -> bool:
        return self.process is not None and self.process.running()

    def check_running(self) -> None:
        if self.process is not None:
            self.process.check_running()

    def log_tail(self, lines: int = 60) -> str:
        return self.process.log_tail(lines) if self.process else ""

    def __enter__(self) -> OperatorProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
