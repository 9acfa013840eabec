"""The metrics a model server exposes (see "Metric conventions" in DESIGN.md), plus
`model_hallucinations_total` (successful answers flagged as hallucinated) for the hallucinationRate preset.

No `rollout`/`version` labels here: Prometheus attaches those from the pod (or, locally, from
the scrape target), as a PodMonitor relabeling would.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from modelrollout.sim.sampling import RequestSample

DURATION_BUCKETS = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75,
    1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0,
)  # fmt: skip
QUALITY_BUCKETS = tuple(round(0.05 * step, 2) for step in range(1, 21))


class ModelMetrics:
    """Metric objects in a private registry (no process/platform collectors)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("model_requests", "Requests served, by outcome.", ["outcome"], registry=self.registry)
        self.duration = Histogram(
            "model_request_duration_seconds",
            "Request duration in seconds.",
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.quality = Histogram(
            "model_quality_score",
            "Quality score (0..1) of successful answers.",
            buckets=QUALITY_BUCKETS,
            registry=self.registry,
        )
        self.tokens = Counter("model_tokens", "Tokens processed.", registry=self.registry)
        self.cost = Counter("model_cost_usd", "Inference cost in US dollars.", registry=self.registry)
        self.hallucinations = Counter(
            "model_hallucinations", "Successful answers flagged as hallucinated.", registry=self.registry
        )
        # Both outcomes exist from the start, so rate() of either is 0 rather than "no data".
        self.requests.labels(outcome="success")
        self.requests.labels(outcome="error")

    def record(self, sample: RequestSample) -> None:
        self.requests.labels(outcome="success" if sample.success else "error").inc()
        self.duration.observe(sample.duration_seconds)
        if sample.quality is not None:
            self.quality.observe(sample.quality)
        self.tokens.inc(sample.tokens)
        self.cost.inc(sample.cost_usd)
        if sample.hallucinated:
            self.hallucinations.inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
