"""The operator as a separate process, for end-to-end tests (which kill it) and the demo."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

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
        die_with_parent: bool = True,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.log_path = log_path
        self.namespaces = list(namespaces)
        self.prometheus_url = prometheus_url
        self.die_with_parent = die_with_parent
        self.process: ManagedProcess | None = None
        self.starts = 0

    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "modelrollout.cli.main", "run", "--kubeconfig", str(self.kubeconfig)]
        for namespace in self.namespaces:
            argv += ["--namespace", namespace]
        return argv

    def start(self) -> OperatorProcess:
        env = dict(os.environ)
        env["KUBECONFIG"] = str(self.kubeconfig)
        env["PYTHONUNBUFFERED"] = "1"
        if self.prometheus_url:
            env["MODELROLLOUT_PROMETHEUS_URL"] = self.prometheus_url
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
