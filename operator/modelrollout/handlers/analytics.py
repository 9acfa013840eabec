"""Version analytics: a background loop refreshing ModelVersion status.performance from Prometheus.

Per namespace and interval: one LIST of Rollouts, one LIST of ModelVersions, and ONE Prometheus
query per model (per Prometheus connection its Rollouts name, in practice one), whatever the
number of versions; then a status patch per version that served requests in the window. The
connection is the one the model's Rollouts use for analysis, so a namespace reads only what it
may read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from pydantic import ValidationError

from modelrollout.adapters.kube import KubeGateway
from modelrollout.adapters.performance import query_samples
from modelrollout.analysis.performance import fold_performance, performance_query, worth_writing
from modelrollout.analysis.templates import AnalysisConfigError
from modelrollout.api.common import parse_duration
from modelrollout.api.rollout import PrometheusSpec, RolloutSpec
from modelrollout.api.settings import AnalyticsSettings
from modelrollout.handlers.analysis_runner import PrometheusAnalyzer
from modelrollout.handlers.reconciler import read_model_versions, utcnow

log = logging.getLogger(__name__)


class PerformanceRefresher:
    """Refreshes the performance figures of the namespaces where Rollouts were seen."""

    def __init__(
        self,
        kube: KubeGateway,
        analyzer: PrometheusAnalyzer,
        settings: AnalyticsSettings,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.kube = kube
        self.analyzer = analyzer
        self.settings = settings
        self.clock = clock
        self.namespaces: set[str] = set()
        self.task: asyncio.Task[None] | None = None
        # One thread: refreshes are sequential and must never take a reconcile worker's thread.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="analytics")

    def note(self, namespace: str) -> None:
        """A Rollout lives in `namespace`; starts the loop on first use (call from the event loop)."""
        if not self.settings.enabled:
            return
        self.namespaces.add(namespace)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self.loop(), name="version-analytics")

    async def loop(self) -> None:
        loop = asyncio.get_running_loop()
        interval = parse_duration(self.settings.interval)
        while True:
            for namespace in sorted(self.namespaces):
                try:
                    await loop.run_in_executor(self.executor, self.refresh_namespace, namespace)
                except Exception:
                    log.exception("version analytics of namespace %s failed; next interval retries", namespace)
            await asyncio.sleep(interval)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        self.executor.shutdown(wait=False, cancel_futures=True)

    def refresh_namespace(self, namespace: str) -> int:
        """One refresh of a namespace; returns the number of Prometheus queries sent."""
        groups: dict[tuple[str, str | None], tuple[PrometheusSpec | None, list[str]]] = {}
        for raw in self.kube.list_rollouts(namespace):
            try:
                spec = RolloutSpec.model_validate(raw.get("spec") or {})
            except ValidationError:
                continue  # reported on the Rollout by its own pass
            prometheus = spec.analysis.prometheus if spec.analysis else None
            key = (spec.model, prometheus.connection if prometheus else None)
            groups.setdefault(key, (prometheus, []))[1].append(raw["metadata"]["name"])
        if not groups:
            self.namespaces.discard(namespace)
            return 0
        versions = read_model_versions(self.kube, namespace)
        window = self.settings.window
        interval = parse_duration(self.settings.interval)
        queries = 0
        for (model, _), (prometheus, rollouts) in sorted(groups.items(), key=lambda item: str(item[0])):
            try:
                query = performance_query(namespace, rollouts, window)
            except (AnalysisConfigError, ValueError) as error:
                log.warning("no version analytics for model %s in %s: %s", model, namespace, error)
                continue
            samples, error_text = query_samples(self.analyzer.source(prometheus, namespace), query)
            queries += 1
            if error_text is not None:
                log.info("version analytics for model %s in %s: %s", model, namespace, error_text)
                continue
            now = self.clock()
            for name, performance in fold_performance(samples, versions, model, window, now).items():
                version = versions.get(name)
                held = version.status.performance if version is not None and version.status else None
                if not worth_writing(held, performance, interval, now):
                    continue
                body = performance.model_dump(by_alias=True, exclude_none=True, mode="json")
                self.kube.patch_model_version_status(namespace, name, {"performance": body})
        return queries
