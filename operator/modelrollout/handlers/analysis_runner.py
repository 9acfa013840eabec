"""The Analyzer the reconciler calls: the Prometheus connection the Rollout names, then plan/measure/fold."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from modelrollout.adapters.abtest import look_at_ab_test
from modelrollout.adapters.kube import KubeGateway
from modelrollout.adapters.prometheus import MetricsSource, UnavailableSource, prometheus_source, run_analysis
from modelrollout.analysis.plan import RolloutIdentity, next_due_in
from modelrollout.api.common import parse_duration, parse_time
from modelrollout.api.rollout import ABTestStatus, AnalysisStatus, PrometheusSpec, RolloutSpec, RolloutStatus
from modelrollout.api.settings import OperatorSettings
from modelrollout.core.abtest_scope import ABScope
from modelrollout.core.analysis_contract import AnalysisScope, AnalysisSummary


class PrometheusAnalyzer:
    """Measures what is due for a scope against the Prometheus connection the Rollout names.

    Connections, and the Secrets holding their tokens, come from the operator's settings only; a
    token is read from the operator's own namespace, never from the Rollout's.
    """

    def __init__(self, kube: KubeGateway, settings: OperatorSettings) -> None:
        self.kube = kube
        self.settings = settings

    def source(self, spec: PrometheusSpec | None, namespace: str) -> MetricsSource:
        settings = self.settings
        connection = settings.connection(spec.connection if spec else None)
        wanted = (spec.connection if spec else None) or settings.default_prometheus_connection
        if connection is None or not connection.allows(namespace):
            # Named connections are checked as InvalidSpec before analysis; this is the default one missing.
            return UnavailableSource(
                f"no Prometheus connection {wanted!r} for namespace {namespace}: the operator's installer "
                "defines connections (Helm values prometheus.connections)"
            )
        token = None
        if connection.bearer_token_secret is not None:
            if settings.namespace is None:
                return UnavailableSource(
                    f"Prometheus connection {connection.name!r} needs a token but the operator does not know "
                    "its own namespace (set POD_NAMESPACE)"
                )
            ref = connection.bearer_token_secret
            token = self.kube.read_secret_key(settings.namespace, ref.name, ref.key)
            if token is None:
                return UnavailableSource(
                    f"Prometheus connection {connection.name!r}: Secret {settings.namespace}/{ref.name} "
                    f"has no key {ref.key!r}"
                )
        timeout = spec.timeout if spec and spec.timeout else connection.timeout
        return prometheus_source(connection, timeout=timeout, bearer_token=token)

    def __call__(
        self,
        rollout: dict[str, Any],
        spec: RolloutSpec,
        status: RolloutStatus,
        scope: AnalysisScope,
        now: datetime,
    ) -> tuple[AnalysisStatus, AnalysisSummary, float | None]:
        analysis = spec.analysis
        assert analysis is not None  # the core gives no scope without spec.analysis
        meta = rollout["metadata"]
        source = self.source(analysis.prometheus, meta["namespace"])
        identity = RolloutIdentity(rollout=meta["name"], namespace=meta["namespace"], model=spec.model)
        analysis_status, summary = run_analysis(source, scope, analysis, status.analysis, now, identity=identity)
        return analysis_status, summary, next_due_in(scope, analysis, analysis_status, now)

    def ab_test(
        self,
        rollout: dict[str, Any],
        spec: RolloutSpec,
        status: RolloutStatus,
        scope: ABScope,
        now: datetime,
    ) -> tuple[ABTestStatus, float]:
        """One look of the A/B test when one is due (every analysis.interval); seconds until the next."""
        analysis = spec.analysis
        previous = status.ab_test or ABTestStatus()
        assert analysis is not None  # CEL: abTest metrics are defined in spec.analysis
        interval = parse_duration(analysis.interval)
        if previous.last_look is not None:
            wait = interval - (now - parse_time(previous.last_look)).total_seconds()
            if wait > 0:
                return previous, wait
        meta = rollout["metadata"]
        source = self.source(analysis.prometheus, meta["namespace"])
        identity = RolloutIdentity(rollout=meta["name"], namespace=meta["namespace"], model=spec.model)
        return look_at_ab_test(source, spec, analysis, scope, previous, now, identity=identity), interval
