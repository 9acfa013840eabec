"""Built-in metrics carrying the rollback decision matrix, so a user can write `preset: errorRate`.

Queries follow the metric conventions of DESIGN.md: the model servers' counters and histograms,
labelled by Prometheus with namespace, rollout and version.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelrollout.api.rollout import Severity

# Every preset selects the series of one version of one rollout.
SELECTOR = 'namespace="{{namespace}}",rollout="{{rollout}}",version="{{version}}"'
TEMPLATE_VARIABLES = frozenset({"rollout", "namespace", "model", "version", "stableVersion", "window"})


def _per_request(counter: str, extra: str = "") -> str:
    return (
        f"sum(rate({counter}{{{SELECTOR}{extra}}}[{{{{window}}}}]))"
        f" / sum(rate(model_requests_total{{{SELECTOR}}}[{{{{window}}}}]))"
    )


@dataclass(frozen=True)
class Preset:
    """A named metric: its query and the threshold and severity it carries."""

    name: str
    query: str
    severity: Severity
    description: str
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
            min=0.7,
            severity="critical",
            description="Mean quality score (0..1); below 0.7 (3.5 of 5 stars) rolls back.",
        ),
        Preset(
            name="hallucinationRate",
            query=_per_request("model_hallucinations_total"),
            max=0.02,
            severity="critical",
            description="Fraction of answers flagged as hallucinated; above 2 % rolls back.",
        ),
        Preset(
            name="costPerRequest",
            query=_per_request("model_cost_usd_total"),
            max_ratio_to_baseline=2.0,
            severity="warning",
            description="Cost per request in USD; above 2 x the stable version's warns.",
        ),
        Preset(
            name="tokensPerRequest",
            query=_per_request("model_tokens_total"),
            max_ratio_to_baseline=1.5,
            severity="warning",
            description="Tokens per request; above 1.5 x the stable version's warns.",
        ),
    )
}
