"""What an A/B test can compare: presets whose data has a per-request distribution, with their queries.

A/B tests need counts, not ratios: how many requests (or scores) each variant saw since the test began,
and how many of them were bad (proportions) or what they summed to (means). The queries follow the metric
conventions of DESIGN.md; `{{window}}` is the time since every variant began to serve (e.g. `3600s`), so
each query returns the total over the whole test. Cost and tokens per request are sums over requests
with no per-request spread the operator can read, so they cannot be compared with a confidence interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from modelrollout.api.presets import SELECTOR

ABKind = Literal["proportion", "mean"]


def _increase(series: str, extra: str = "") -> str:
    return f"sum(increase({series}{{{SELECTOR}{extra}}}[{{{{window}}}}]))"


_REQUESTS = _increase("model_requests_total")
_ERRORS = _increase("model_requests_total", ',outcome="error"')


@dataclass(frozen=True)
class ABPreset:
    """How a preset is compared in an A/B test.

    proportion: `events` of `trials`. mean: `total` / `count`, spread from `buckets` (a `sum by (le)`
    query) when the histogram has them, else from `bounds` (values known to lie in [low, high]).
    """

    kind: ABKind
    min_effect: float
    # A proportion: bad events and trials. A mean: sum and count of the values.
    events_or_total: str
    trials_or_count: str
    buckets: str | None = None
    bounds: tuple[float, float] | None = None
    unit: str = ""


AB_PRESETS: dict[str, ABPreset] = {
    # A server may create the error series only at its first error: none yet is zero errors.
    "errorRate": ABPreset("proportion", 0.01, f"({_ERRORS} or vector(0))", _REQUESTS),
    "hallucinationRate": ABPreset(
        "proportion", 0.01, f"({_increase('model_hallucinations_total')} or vector(0))", _REQUESTS
    ),
    "qualityScore": ABPreset(
        "mean",
        0.02,
        _increase("model_quality_score_sum"),
        _increase("model_quality_score_count"),
        buckets=f"sum by (le) (increase(model_quality_score_bucket{{{SELECTOR}}}[{{{{window}}}}]))",
        bounds=(0.0, 1.0),
    ),
    # The p95 has no per-request form; the A/B test compares mean latency, its spread from the buckets.
    "latencyP95": ABPreset(
        "mean",
        0.05,
        _increase("model_request_duration_seconds_sum"),
        _increase("model_request_duration_seconds_count"),
        buckets=f"sum by (le) (increase(model_request_duration_seconds_bucket{{{SELECTOR}}}[{{{{window}}}}]))",
        unit="s",
    ),
}
