"""The Prometheus adapter's pure parts: reading results, errors, measuring through a MetricsSource."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_api_client.exceptions import PrometheusApiClientException

from modelrollout.adapters.prometheus import (
    BucketsResult,
    PrometheusSource,
    QueryResult,
    _http_error,
    buckets_from_result,
    clear_client_cache,
    measure,
    prometheus_source,
    run_analysis,
    scalar_from_result,
)
from modelrollout.analysis.metrics import resolve_metric
from modelrollout.analysis.plan import MetricQuery, RolloutIdentity
from modelrollout.api.rollout import AnalysisSpec, AnalysisStatus, MetricSpec
from modelrollout.api.settings import PrometheusConnection
from modelrollout.core.analysis_contract import AnalysisScope

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("result", "value", "error"),
    [
        ([{"metric": {}, "value": [1700000000.1, "0.05"]}], 0.05, None),
        ([{"metric": {"version": "2.4.0"}, "value": [1700000000, "3"]}], 3.0, None),
        ([1700000000.1, "0.25"], 0.25, None),  # a scalar result
        ([], None, "no data"),
        (
            [{"metric": {"a": "1"}, "value": [1, "1"]}, {"metric": {"a": "2"}, "value": [1, "2"]}],
            None,
            "2 series",
        ),
        ([{"metric": {}, "values": [[1, "1"], [2, "2"]]}], None, "range vector"),
        ([{"metric": {}, "value": [1, "abc"]}], None, "not a number"),
        ([1700000000.1, "hello"], None, "not a number"),
        ({"resultType": "vector"}, None, "unexpected"),
    ],
)
def test_scalar_from_result(result: object, value: float | None, error: str | None) -> None:
    parsed = scalar_from_result(result)
    assert parsed.value == value
    if error is None:
        assert parsed.error is None
    else:
        assert parsed.error is not None and error in parsed.error


@pytest.mark.parametrize(("text", "check"), [("NaN", math.isnan), ("+Inf", math.isinf), ("-Inf", math.isinf)])
def test_non_finite_values_pass_through_for_evaluation(text: str, check: object) -> None:
    parsed = scalar_from_result([{"metric": {}, "value": [1, text]}])
    assert parsed.error is None and parsed.value is not None and check(parsed.value)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            'HTTP Status Code 400 (b\'{"status":"error","errorType":"bad_data","error":"parse error: unexpected"}\')',
            "Prometheus answered HTTP 400: parse error: unexpected",
        ),
        ("HTTP Status Code 503 (b'Service Unavailable')", "Prometheus answered HTTP 503"),
        ("something else", "something else"),
    ],
)
def test_http_errors_are_summarised(message: str, expected: str) -> None:
    assert _http_error(PrometheusApiClientException(message)) == expected


class FakeSource:
    """Answers from a table and records the queries asked."""

    def __init__(self, answers: dict[str, QueryResult], default: QueryResult | None = None) -> None:
        self.answers = answers
        self.default = default or QueryResult(error="no data")
        self.asked: list[str] = []

    def query_scalar(self, promql: str) -> QueryResult:
        self.asked.append(promql)
        return self.answers.get(promql, self.default)

    def query_buckets(self, promql: str) -> BucketsResult:
        self.asked.append(promql)
        return BucketsResult(error="no data")


def query(name: str, metric: dict[str, object], baseline: str | None = None) -> MetricQuery:
    resolved = resolve_metric(MetricSpec.model_validate({"name": name, "query": "q", **metric}), AnalysisSpec())
    return MetricQuery(metric=name, version="v2", resolved=resolved, query=f"q-{name}", baseline_query=baseline)


def test_measure_evaluates_each_query() -> None:
    source = FakeSource(
        {
            "q-err": QueryResult(value=0.2013),
            "q-lat": QueryResult(value=0.3),
            "base-lat": QueryResult(value=0.1),
            "q-nan": QueryResult(value=math.nan),
        }
    )
    queries = [
        query("err", {"max": 0.05}),
        query("lat", {"maxRatioToBaseline": 1.5}, baseline="base-lat"),
        query("nan", {"maxRatioToBaseline": 1.5}, baseline="base-nan"),
        query("missing", {"max": 1}),
        MetricQuery(metric="broken", version="v2", error="unknown preset 'x'"),
    ]
    results = measure(source, queries, NOW)
    assert [(r.metric, r.verdict) for r in results] == [
        ("err", "fail"),
        ("lat", "fail"),
        ("nan", "inconclusive"),
        ("missing", "inconclusive"),
        ("broken", "inconclusive"),
    ]
    assert results[0].message == "err=0.2013 above max 0.05"
    assert results[1].baseline == 0.1
    assert results[3].message == "missing: no data"
    assert results[4].message == "broken: unknown preset 'x'"
    # No baseline query for a value that is inconclusive anyway; none for a planned error.
    assert source.asked == ["q-err", "q-lat", "base-lat", "q-nan", "q-missing"]


def test_measure_stops_asking_an_unreachable_prometheus() -> None:
    source = FakeSource({"q-a": QueryResult(error="cannot reach Prometheus", connection_failed=True)})
    results = measure(source, [query("a", {"max": 1}), query("b", {"max": 1})], NOW)
    assert [r.verdict for r in results] == ["inconclusive", "inconclusive"]
    assert results[1].message == "b: cannot reach Prometheus"
    assert source.asked == ["q-a"]


def test_source_takes_address_timeout_and_tls_from_the_connection() -> None:
    connection = PrometheusConnection(name="main", address="http://p:9090/", timeout="2s", insecure_skip_verify=True)
    source = prometheus_source(connection)
    assert isinstance(source, PrometheusSource)
    assert (source.address, source.timeout) == ("http://p:9090", 2.0)
    assert source.client._session.verify is False
    overridden = prometheus_source(PrometheusConnection(name="main", address="http://p:9090"), timeout="300ms")
    assert isinstance(overridden, PrometheusSource)
    assert overridden.timeout == 0.3 and overridden.client._session.verify is True
    clear_client_cache()


def test_clients_are_cached_per_address_token_and_tls() -> None:
    def client(token: str | None, skip: bool = False) -> object:
        connection = PrometheusConnection(name="p", address="http://p:9090", insecure_skip_verify=skip)
        source = prometheus_source(connection, bearer_token=token)
        assert isinstance(source, PrometheusSource)
        return source.client

    assert client("a") is client("a")
    assert client("a") is not client("b")
    assert client("a") is not client("a", skip=True)
    assert client(None) is client(None)
    clear_client_cache()


def test_plan_measure_fold_round_trip() -> None:
    analysis = AnalysisSpec.model_validate(
        {"interval": "30s", "metrics": [{"name": "error-rate", "preset": "errorRate"}]}
    )
    scope = AnalysisScope(
        version="chat-2-0-0",
        version_label="2.0.0",
        stable_version=None,
        stable_label=None,
        step_metrics=("error-rate",),
        step_since="2026-01-02T03:04:00Z",
    )
    identity = RolloutIdentity(rollout="chat", namespace="prod", model="chat")
    source = CountingSource(trials=2000.0)  # no error series at all: zero errors, not "no data"
    status: AnalysisStatus | None = None
    for tick in range(4):  # a reconcile every 20s
        status, summary = run_analysis(
            source, scope, analysis, status, NOW + timedelta(seconds=20 * tick), identity=identity
        )
    # Measured at 0s and 40s (20s and 60s were within the interval), all passing.
    assert status is not None
    assert [m.at for m in status.measurements] == ["2026-01-02T03:04:05Z", "2026-01-02T03:04:45Z"]
    assert summary.step_passed and summary.critical_failure is None and summary.no_data is None
    assert status.measurements[-1].samples == 2000 and status.measurements[-1].value == 0
    assert len(source.asked) == 4  # trials and errors, twice: nothing is queried when nothing is due
    # The evidence counts cover the time since the version got traffic (here the step start).
    assert "[5s]" in source.asked[0] and "[45s]" in source.asked[2]


class CountingSource(FakeSource):
    """Counts queries of the errorRate preset: `trials` requests, and an error series only if `bad` is set."""

    def __init__(self, trials: float, bad: float | None = None) -> None:
        super().__init__({})
        self.trials, self.bad = trials, bad

    def query_scalar(self, promql: str) -> QueryResult:
        self.asked.append(promql)
        if 'outcome="error"' in promql:
            return QueryResult(value=self.bad) if self.bad is not None else QueryResult(error="no data")
        return QueryResult(value=self.trials)


def test_requests_without_any_traffic_are_no_data_but_missing_error_series_is_zero() -> None:
    resolved = resolve_metric(MetricSpec(name="err", preset="errorRate"), AnalysisSpec())
    evidence = {"bad": 'x{outcome="error"}', "trials": "x"}
    planned = MetricQuery(metric="err", version="v2", resolved=resolved, query="q", evidence_queries=evidence)
    [idle] = measure(CountingSource(trials=0.0), [planned], NOW)
    assert idle.verdict == "inconclusive" and "no traffic" in idle.message
    [busy] = measure(CountingSource(trials=5000.0), [planned], NOW)
    assert busy.verdict == "pass" and busy.samples == 5000 and busy.value == 0.0
    [failing] = measure(CountingSource(trials=5000.0, bad=1000.0), [planned], NOW)
    assert failing.verdict == "fail" and failing.lower is not None and failing.lower > 0.05


def test_buckets_are_sorted_and_made_monotone() -> None:
    def series(le: str, value: str) -> dict[str, object]:
        return {"metric": {"le": le}, "value": [1, value]}

    parsed = buckets_from_result([series("+Inf", "10"), series("0.1", "4"), series("0.2", "3.9")])
    assert parsed.buckets == ((0.1, 4.0), (0.2, 4.0), (math.inf, 10.0))
    assert buckets_from_result([series("0.1", "4")]).error is not None  # no +Inf bucket
    assert buckets_from_result([{"metric": {}, "value": [1, "3"]}]).error is not None  # not by le
    assert buckets_from_result([]).error == "no data"
