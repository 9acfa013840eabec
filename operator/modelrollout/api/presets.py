"""Built-in metrics carrying the rollback decision matrix, so a user can write `preset: errorRate`.

Queries follow the metric conventions of DESIGN.md: the model servers' counters and histograms,
labelled by Prometheus with namespace, rollout and version.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelrollout.api.rollout import Severity

# Every preset selects the series of one version of one rollout.
SELECTOR = 'namespace="{{namespace}}",rollout="{{rollout}}",version="{{version}}"'
TEMPLATE_VARIABLES = frozenset({"rollout", "namespace", "model", "version", "stableVersion", "window", "range"})


def _count(counter: str, extra: str = "") -> str:
    """Events of a counter since the version under test got traffic ({{range}}); increase() copes with resets."""
    return f"sum(increase({counter}{{{SELECTOR}{extra}}}[{{{{range}}}}]))"


@dataclass(frozen=True)
class CountsShape:
    """A proportion with its evidence: `bad` events among `trials`, both counts over {{range}}.

    A `bad` query without data while `trials` has some means zero bad events: servers create an error
    series only at the first error.
    """

    bad: str
    trials: str


@dataclass(frozen=True)
class BucketsShape:
    """A quantile with its evidence: cumulative histogram bucket counts over {{range}}, one series per `le`."""

    buckets: str
    quantile: float


@dataclass(frozen=True)
class MeanShape:
    """A mean with its evidence: the sum and the count of the observed values over {{range}}.

    With `low` and `high` (values known to lie between them) the mean gets a confidence interval;
    without, nothing bounds a single value, so the verdict is the point estimate once enough
    samples are in (MEAN_MIN_SAMPLES on every side compared).
    """

    total: str
    count: str
    low: float | None = None
    high: float | None = None


EvidenceShape = CountsShape | BucketsShape | MeanShape
# Values needed before a mean without bounds is judged at all (its verdict is a point estimate).
MEAN_MIN_SAMPLES = 200


def _per_request(counter: str, extra: str = "") -> str:
    return (
        f"sum(rate({counter}{{{SELECTOR}{extra}}}[{{{{window}}}}]))"
        f" / sum(rate(model_requests_total{{{SELECTOR}}}[{{{{window}}}}]))"
    )


@dataclass(frozen=True)
class Preset:
    """A named metric: its point-estimate query over {{window}} (what dashboards show), the evidence it is
    judged on, and the threshold and severity it carries."""

    name: str
    query: str
    severity: Severity
    description: str
    shape: EvidenceShape | None = None
    max: float | None = None
    min: float | None = None
    max_ratio_to_baseline: float | None = None
    min_ratio_to_baseline: float | None = None


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            name="errorRate",
            query=_per_request("model_requests_total", ',outcome="error"'),
            shape=CountsShape(
                bad=_count("model_requests_total", ',outcome="error"'), trials=_count("model_requests_total")
            ),
            max=0.05,
            severity="critical",
            description="Fraction of failed requests; above 5 % rolls back.",
        ),
        Preset(
            name="latencyP95",
            query=(
                "histogram_quantile(0.95, sum by (le) "
                f"(rate(model_request_duration_seconds_bucket{{{SELECTOR}}}[{{{{window}}}}])))"
            ),
            shape=BucketsShape(
                buckets=f"sum by (le) (increase(model_request_duration_seconds_bucket{{{SELECTOR}}}[{{{{range}}}}]))",
                quantile=0.95,
            ),
            max_ratio_to_baseline=1.5,
            severity="critical",
            description="95th percentile latency; above 1.5 x the stable version's rolls back.",
        ),
        Preset(
            name="qualityScore",
            query=(
                f"sum(rate(model_quality_score_sum{{{SELECTOR}}}[{{{{window}}}}]))"
                f" / sum(rate(model_quality_score_count{{{SELECTOR}}}[{{{{window}}}}]))"
            ),
            shape=MeanShape(
                total=_count("model_quality_score_sum"), count=_count("model_quality_score_count"), low=0.0, high=1.0
            ),
            min=0.7,
            severity="critical",
            description="Mean quality score (0..1); below 0.7 (3.5 of 5 stars) rolls back.",
        ),
        Preset(
            name="hallucinationRate",
            query=_per_request("model_hallucinations_total"),
            shape=CountsShape(bad=_count("model_hallucinations_total"), trials=_count("model_requests_total")),
            max=0.02,
            severity="critical",
            description="Fraction of answers flagged as hallucinated; above 2 % rolls back.",
        ),
        Preset(
            name="costPerRequest",
            query=_per_request("model_cost_usd_total"),
            shape=MeanShape(total=_count("model_cost_usd_total"), count=_count("model_requests_total")),
            max_ratio_to_baseline=2.0,
            severity="warning",
            description="Cost per request in USD; above 2 x the stable version's warns.",
        ),
        Preset(
            name="tokensPerRequest",
            query=_per_request("model_tokens_total"),
            shape=MeanShape(total=_count("model_tokens_total"), count=_count("model_requests_total")),
            max_ratio_to_baseline=1.5,
            severity="warning",
            description="Tokens per request; above 1.5 x the stable version's warns.",
        ),
    )
}
