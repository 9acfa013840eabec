"""The Analyzer the reconciler calls: Prometheus connection from the Rollout, then plan/measure/fold."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from modelrollout.adapters.kube import KubeGateway
from modelrollout.adapters.prometheus import prometheus_source, run_analysis
from modelrollout.analysis.plan import RolloutIdentity, next_due_in
from modelrollout.api.rollout import AnalysisStatus, RolloutSpec, RolloutStatus
from modelrollout.core.analysis_contract import AnalysisScope, AnalysisSummary


class PrometheusAnalyzer:
    """Measures what is due for a scope against the Rollout's Prometheus (or the operator default)."""

    def __init__(self, kube: KubeGateway, default_address: str | None = None) -> None:
        self.kube = kube
        self.default_address = default_address

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
        token = None
        prometheus = analysis.prometheus
        if prometheus is not None and prometheus.bearer_token_secret_ref is not None:
            ref = prometheus.bearer_token_secret_ref
            token = self.kube.read_secret_key(meta["namespace"], ref.name, ref.key)
        source = prometheus_source(prometheus, bearer_token=token, default_address=self.default_address)
        identity = RolloutIdentity(rollout=meta["name"], namespace=meta["namespace"], model=spec.model)
        analysis_status, summary = run_analysis(source, scope, analysis, status.analysis, now, identity=identity)
        return analysis_status, summary, next_due_in(scope, analysis, analysis_status, now)
