"""A real Prometheus server on loopback, scraping targets listed in a file_sd JSON file.

Targets carry `rollout`, `version` and `namespace` labels, as a PodMonitor relabeling would
attach them from pod labels. Prometheus re-reads the file on change, so targets come and go at
run time without a restart or reload.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from modelrollout.devenv.processes import ManagedProcess, ProcessFailedError, free_port, wait_until

SCRAPE_JOB = "model-servers"


def find_prometheus() -> Path:
    candidate = os.environ.get("PROMETHEUS_BIN") or shutil.which("prometheus") or "/usr/bin/prometheus"
    path = Path(candidate)
    if not path.is_file():
        raise FileNotFoundError("prometheus not found: apt-get install prometheus, or set PROMETHEUS_BIN")
    return path


class TargetsFile:
    """The file_sd JSON list of scrape targets; usable without a running server (`dev up`)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, dict[str, str]]:
        """address -> labels."""
        try:
            groups = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        return {target: dict(group["labels"]) for group in groups for target in group["targets"]}

    def write(self, targets: Mapping[str, Mapping[str, str]]) -> None:
        groups = [{"targets": [address], "labels": dict(labels)} for address, labels in sorted(targets.items())]
        # Replace atomically: Prometheus watches the file and must never read half of it.
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(groups, indent=1))
        temporary.replace(self.path)

    def add(self, address: str, labels: Mapping[str, str]) -> None:
        targets = self.read()
        targets[address] = dict(labels)
        self.write(targets)

    def remove(self, address: str) -> None:
        targets = self.read()
        if targets.pop(address, None) is not None:
            self.write(targets)


class LocalPrometheus:
    """`prometheus` with its data, config and targets in `work_dir` (a temp dir by default).

    stop() and start() again keep the port and the data, to simulate an outage.
    """

    def __init__(
        self,
        work_dir: Path | None = None,
        *,
        port: int | None = None,
        scrape_interval: str = "1s",
        evaluation_interval: str = "1s",
        start_timeout: float = 60.0,
        die_with_parent: bool = True,
        keep_work_dir: bool = False,
    ) -> None:
        self._owns_work_dir = work_dir is None
        self.work_dir = Path(tempfile.mkdtemp(prefix="modelrollout-prometheus-")) if work_dir is None else work_dir
        self.port = port or free_port()
        self.scrape_interval = scrape_interval
        self.evaluation_interval = evaluation_interval
        self.start_timeout = start_timeout
        self.die_with_parent = die_with_parent
        self.keep_work_dir = keep_work_dir
        self.targets = TargetsFile(self.work_dir / "targets.json")
        self._process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.work_dir / "prometheus.yml"

    @property
    def log_path(self) -> Path:
        return self.work_dir / "prometheus.log"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("prometheus not started")
        return self._process.pid

    def __enter__(self) -> LocalPrometheus:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def write_config(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        if not self.targets.path.exists():
            self.targets.write({})
        config = {
            "global": {
                "scrape_interval": self.scrape_interval,
                "scrape_timeout": self.scrape_interval,
                "evaluation_interval": self.evaluation_interval,
            },
            "scrape_configs": [
                {
                    "job_name": SCRAPE_JOB,
                    "file_sd_configs": [{"files": [str(self.targets.path)], "refresh_interval": "1s"}],
                }
            ],
        }
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    def start(self) -> LocalPrometheus:
        if self.running():
            return self
        atexit.register(self.close)  # removes the work dir on an interrupted run, too
        self.write_config()
        self._process = ManagedProcess(
            "prometheus",
            [
                str(find_prometheus()),
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.work_dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
                "--storage.tsdb.retention.time=1d",
            ],
            self.log_path,
            cwd=self.work_dir,
            die_with_parent=self.die_with_parent,
        ).start()
        try:
            wait_until(
                self._ready,
                timeout=self.start_timeout,
                what="prometheus /-/ready",
                alive=self._process.check_running,
            )
        except TimeoutError as exc:
            self._process.stop()
            raise ProcessFailedError(f"{exc}\n{self._process.describe_log()}") from None
        return self

    def stop(self) -> None:
        """Stops the server, keeping data, config and targets for a later start()."""
        if self._process is not None:
            self._process.stop()
            self._process = None

    def close(self) -> None:
        """Stops the server for good and removes its temp dir."""
        atexit.unregister(self.close)
        self.stop()
        if self._owns_work_dir and not self.keep_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def detach(self) -> None:
        """Leaves the server running after this interpreter exits."""
        atexit.unregister(self.close)
        if self._process is not None:
            self._process.detach()

    def running(self) -> bool:
        return self._process is not None and self._process.running()

    # -------------------------------------------------------------------------------- targets

    def add_target(self, address: str, labels: Mapping[str, str]) -> None:
        self.targets.add(address, labels)

    def remove_target(self, address: str) -> None:
        self.targets.remove(address)

    def active_targets(self) -> list[dict[str, Any]]:
        targets: list[dict[str, Any]] = self.api("targets", state="active")["activeTargets"]
        return targets

    def target_health(self, address: str) -> str | None:
        """'up', 'down' or 'unknown' (not scraped yet); None while Prometheus doesn't know it."""
        for target in self.active_targets():
            if target["labels"].get("instance") == address:
                health: str = target["health"]
                return health
        return None

    def wait_for_target_up(self, address: str, timeout: float = 30.0) -> None:
        wait_until(
            lambda: self.target_health(address) == "up",
            timeout=timeout,
            what=f"prometheus to scrape {address} successfully",
        )

    # ---------------------------------------------------------------------------------- query

    def api(self, endpoint: str, **params: str) -> Any:
        """GET /api/v1/<endpoint>; returns `data`, raises on an error status."""
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/{endpoint}?{query}", timeout=10) as response:
            body = json.loads(response.read())
        if body.get("status") != "success":
            raise RuntimeError(f"prometheus {endpoint} failed: {body}")
        return body["data"]

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        """Instant vector query (at Unix time `at`, default now); each result has `metric`, `value`."""
        params = {"query": promql} if at is None else {"query": promql, "time": f"{at:.3f}"}
        result: list[dict[str, Any]] = self.api("query", **params)["result"]
        return result

    def query_scalar(self, promql: str, at: float | None = None) -> float | None:
        """The single value of a query that yields one series; None when it yields none."""
        result = self.query(promql, at)
        if not result:
            return None
        if len(result) > 1:
            raise ValueError(f"expected one series from {promql!r}, got {len(result)}")
        return float(result[0]["value"][1])

    def latest_sample_time(self, selector: str) -> float | None:
        """Unix time of the newest scraped sample matching `selector`, None if there is none."""
        return self.query_scalar(f"max(timestamp({selector}))")

    def wait_for_samples_until(self, selector: str, until: float, timeout: float = 60.0) -> None:
        """Waits until Prometheus holds samples of `selector` up to time `until`, so a query
        evaluated at `until` sees complete data."""
        wait_until(
            lambda: (self.latest_sample_time(selector) or 0.0) >= until,
            timeout=timeout,
            what=f"samples of {selector} up to {until:.1f}",
        )

    def _ready(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
            return bool(response.status == 200)
