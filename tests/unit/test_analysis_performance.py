"""Version analytics: one query per model for every figure of every version, folded per ModelVersion."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from modelrollout.analysis.performance import FIGURES, Sample, fold_performance, performance_query
from modelrollout.analysis.templates import AnalysisConfigError
from modelrollout.api.modelversion import ModelVersion
from modelrollout.devenv.manifests import model_version

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
VERSIONS = {
    name: ModelVersion.model_validate(model_version(name, semver, model=model))
    for name, semver, model in (
        ("sa-2-3-1", "2.3.1", "support-agent"),
        ("sa-2-4-0", "2.4.0", "support-agent"),
        ("sa-3-0-0-rc-1", "3.0.0-RC.1", "support-agent"),
        ("other-2-3-1", "2.3.1", "other"),
    )
}


def test_one_query_carries_every_figure_for_the_models_rollouts() -> None:
    query = performance_query("team-a", ["sa-canary", "sa"], "1h")
    assert query.count(" or ") == len(FIGURES) - 1
    for figure in FIGURES:
        assert f'"figure", "{figure}", "", ""' in query
    assert query.count('namespace="team-a",rollout=~"sa|sa-canary"') == len(FIGURES)
    assert "[1h]" in query and "histogram_quantile(0.95, sum by (version, le)" in query


@pytest.mark.parametrize(("namespace", "rollouts"), [('x",evil="1', ["sa"]), ("team-a", ["sa|.*"]), ("team-a", [])])
def test_names_that_could_change_the_query_are_refused(namespace: str, rollouts: list[str]) -> None:
    with pytest.raises((AnalysisConfigError, ValueError)):
        performance_query(namespace, rollouts, "1h")


def samples(version: str, **figures: float) -> list[Sample]:
    return [Sample(figure, version, value) for figure, value in figures.items()]


def test_figures_fold_into_one_performance_per_version_of_the_model() -> None:
    answer = samples(
        "2.3.1",
        requests=2000,
        errors=40,
        p50=0.121,
        p95=0.185,
        qualitySum=1600,
        qualityCount=1960,
        cost=4.0,
        tokens=800_000,
    ) + samples("2.4.0", requests=1000, p50=0.3)
    result = fold_performance(answer, VERSIONS, "support-agent", "1h", NOW)
    assert set(result) == {"sa-2-3-1", "sa-2-4-0"}  # not the other model's 2.3.1, not the idle rc
    stable = result["sa-2-3-1"]
    assert stable.requests == 2000
    assert stable.error_rate == pytest.approx(0.02)
    assert stable.latency_p50_ms == pytest.approx(121)
    assert stable.latency_p95_ms == pytest.approx(185)
    assert stable.quality_score == pytest.approx(1600 / 1960)
    assert stable.quality_samples == 1960
    assert stable.cost_per_request == pytest.approx(0.002)
    assert stable.tokens_per_request == pytest.approx(400)
    assert (stable.window, stable.observed_at) == ("1h", "2026-03-01T12:00:00Z")
    # requests but no error series: no errors, not "no data"; figures without samples stay empty
    candidate = result["sa-2-4-0"]
    assert candidate.error_rate == 0.0
    assert candidate.quality_score is None and candidate.latency_p95_ms is None


def test_versions_without_requests_or_with_nan_figures_keep_their_last_figures() -> None:
    answer = samples("2.3.1", requests=0, errors=0) + samples("2.4.0", requests=10, p95=float("nan"))
    result = fold_performance(answer, VERSIONS, "support-agent", "1h", NOW)
    assert set(result) == {"sa-2-4-0"}
    assert result["sa-2-4-0"].latency_p95_ms is None


def test_prerelease_versions_are_matched_by_their_label() -> None:
    result = fold_performance(samples("3.0.0-rc.1", requests=5), VERSIONS, "support-agent", "5m", NOW)
    assert set(result) == {"sa-3-0-0-rc-1"}


def test_figures_that_barely_moved_are_not_written_again_until_they_age() -> None:
    from datetime import timedelta

    from modelrollout.analysis.performance import worth_writing
    from modelrollout.api.common import format_time
    from modelrollout.api.modelversion import Performance

    held = Performance(requests=72_000, error_rate=0.0100, window="1h", observed_at=format_time(NOW))
    later = NOW + timedelta(seconds=60)
    # more requests in a window still filling, an error rate within 5 %: nothing worth a write
    steady = Performance(requests=75_600, error_rate=0.0102, window="1h", observed_at=format_time(later))
    assert not worth_writing(held, steady, 60, later)
    assert worth_writing(None, steady, 60, later)
    assert worth_writing(held, steady.model_copy(update={"error_rate": 0.02}), 60, later)
    assert worth_writing(held, steady.model_copy(update={"latency_p95_ms": 120.0}), 60, later)
    assert worth_writing(held, steady.model_copy(update={"window": "2h"}), 60, later)
    # observedAt may not grow older than ten intervals
    assert worth_writing(held, steady, 60, NOW + timedelta(seconds=600))
