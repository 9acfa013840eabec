"""One A/B look from query results: queries per variant, estimates, running p-values, removals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from modelrollout.analysis.abtest_plan import Observation, ab_plans, look, variant_queries, window
from modelrollout.analysis.plan import RolloutIdentity
from modelrollout.api.rollout import ABTestStatus, ABTestStrategy, AnalysisSpec
from modelrollout.core.abtest_scope import ABScope

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
ANALYSIS = AnalysisSpec.model_validate(
    {"metrics": [{"name": "quality", "preset": "qualityScore"}, {"name": "errors", "preset": "errorRate"}]}
)
AB = ABTestStrategy.model_validate(
    {
        "variants": [{"version": "a", "weight": 40}, {"version": "b", "weight": 30}, {"version": "c", "weight": 30}],
        "metrics": [{"name": "quality"}, {"name": "errors", "guardrail": True}],
        "minSamplesPerVariant": 100,
    }
)
SCOPE = ABScope(
    variants=(("a", "1.0.0"), ("b", "1.1.0"), ("c", "1.2.0")), control="a", started_at="2026-03-01T12:00:00Z"
)


def observations(
    quality: dict[str, float], errors: dict[str, float], n: float = 2000
) -> dict[tuple[str, str], Observation]:
    found = {("quality", v): Observation(mean * n, n) for v, mean in quality.items()}
    found |= {("errors", v): Observation(rate * n, n) for v, rate in errors.items()}
    return found


def test_directions_and_effects_come_from_the_presets() -> None:
    plans = ab_plans(AB, ANALYSIS)
    assert [(p.plan.name, p.plan.better, p.plan.min_effect, p.plan.guardrail) for p in plans] == [
        ("quality", "higher", 0.02, False),
        ("errors", "lower", 0.01, True),
    ]


def test_queries_cover_the_whole_test_for_every_variant() -> None:
    now = T0 + timedelta(seconds=90.2)
    assert window(SCOPE, now) == "91s"
    identity = RolloutIdentity(rollout="sa", namespace="ml", model="m")
    queries = variant_queries(ab_plans(AB, ANALYSIS), SCOPE, identity, now)
    assert len(queries) == 6
    errors_b = next(q for q in queries if q.metric == "errors" and q.version == "b")
    assert 'version="1.1.0",outcome="error"}[91s]' in errors_b.events_or_total
    assert errors_b.events_or_total.endswith("or vector(0))")
    quality_c = next(q for q in queries if q.metric == "quality" and q.version == "c")
    assert quality_c.buckets is not None and "sum by (le)" in quality_c.buckets


def test_a_look_decides_and_keeps_the_running_minimum_p_value() -> None:
    plans = ab_plans(AB, ANALYSIS)
    now = T0 + timedelta(minutes=5)
    first = look(
        AB,
        plans,
        SCOPE,
        observations({"a": 0.8, "b": 0.8, "c": 0.8}, {"a": 0.01, "b": 0.01, "c": 0.01}),
        ABTestStatus(started_at="2026-03-01T12:00:00Z"),
        now,
        max_duration=86400,
    )
    assert first.decision is None and first.alpha_per_test == 0.0125
    quality = first.metrics[0]
    assert [e.version for e in quality.estimates] == ["a", "b", "c"] and all(len(e.ci) == 2 for e in quality.estimates)
    assert quality.needs.startswith("needs ≈ ")
    seeded = first.model_copy(deep=True)
    seeded.metrics[0].comparisons[0].p_value = 0.001
    second = look(
        AB,
        plans,
        SCOPE,
        observations({"a": 0.8, "b": 0.8, "c": 0.8}, {"a": 0.01, "b": 0.01, "c": 0.01}),
        seeded,
        now,
        max_duration=86400,
    )
    assert second.metrics[0].comparisons[0].p_value == 0.001, "an always-valid p-value never rises"
    expired = look(
        AB,
        plans,
        SCOPE,
        observations({"a": 0.8, "b": 0.8, "c": 0.8}, {"a": 0.01, "b": 0.01, "c": 0.01}),
        first,
        now,
        max_duration=60,
    )
    assert expired.decision == "inconclusive" and expired.winner is None


def test_a_variant_surely_beyond_a_critical_threshold_is_removed_and_the_decision_waits() -> None:
    plans = ab_plans(AB, ANALYSIS)
    result = look(
        AB,
        plans,
        SCOPE,
        observations({"a": 0.8, "b": 0.9, "c": 0.8}, {"a": 0.01, "b": 0.01, "c": 0.2}),
        ABTestStatus(started_at="2026-03-01T12:00:00Z"),
        T0 + timedelta(minutes=5),
        max_duration=86400,
    )
    assert [r.version for r in result.removed] == ["c"]
    assert "critical max 0.05" in result.removed[0].reason
    assert result.decision is None, "the split changed: decide on the next look"


def test_no_data_for_a_variant_is_said_and_decides_nothing() -> None:
    plans = ab_plans(AB, ANALYSIS)
    found = observations({"a": 0.8, "b": 0.9}, {"a": 0.01, "b": 0.01})
    found[("quality", "c")] = Observation(None, None, error="no data")
    result = look(
        AB,
        plans,
        SCOPE,
        found,
        ABTestStatus(started_at="2026-03-01T12:00:00Z"),
        T0 + timedelta(minutes=5),
        max_duration=86400,
    )
    assert result.decision is None
    assert "c: no data" in result.metrics[0].message


def test_the_status_view_shows_the_decision_estimates_and_sample_size() -> None:
    from rich.console import Console

    from modelrollout.cli.abview import ab_test_view

    plans = ab_plans(AB, ANALYSIS)
    found = observations({"a": 0.8, "b": 0.9, "c": 0.8}, {"a": 0.01, "b": 0.01, "c": 0.01}, n=10000)
    status = look(AB, plans, SCOPE, found, ABTestStatus(started_at="2026-03-01T12:00:00Z"), T0, max_duration=86400)
    view = ab_test_view({"abTest": status.model_dump(by_alias=True, exclude_none=True, mode="json")})
    assert view is not None
    console = Console(record=True, width=160)
    console.print(view)
    text = console.export_text()
    assert "A/B test: upgrade (confidence high), winner b" in text
    assert "quality (higher is better)" in text and "errors (guardrail, lower is better)" in text
    assert "control" in text and "better" in text and "needs ≈ " in text
    assert ab_test_view({}) is None
