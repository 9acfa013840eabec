"""Prometheus behind a small interface: one PromQL query in, one number (or why not) out.

Built on prometheus_api_client.PrometheusConnect with three deliberate changes to its defaults:
no retries (a struggling Prometheus answering 503 must not get a retry storm from every reconcile),
an explicit per-query timeout sent both to Prometheus and to the HTTP client, and no exception ever
escaping `query_scalar` (a failed query is an inconclusive measurement, not a crashed handler).
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

from modelrollout.analysis.evaluate import evaluate, inconclusive
from modelrollout.analysis.evidence import Buckets, Counts, DetectorState, Evidence, Sums, judge
from modelrollout.analysis.fold import fold
from modelrollout.analysis.plan import MetricQuery, RolloutIdentity, due_metrics
from modelrollout.api.common import parse_duration
from modelrollout.api.rollout import AnalysisSpec, AnalysisStatus, Measurement
from modelrollout.api.settings import PrometheusConnection
from modelrollout.core.analysis_contract import AnalysisScope, AnalysisSummary

DEFAULT_TIMEOUT_SECONDS = 5.0
# The HTTP client waits a little longer than Prometheus' own timeout so that Prometheus' clearer
# "query timed out" answer arrives before the client gives up.
_READ_GRACE_SECONDS = 1.0
_MAX_ERROR_CHARS = 300
_CACHE_SIZE = 32


@dataclass(frozen=True)
class QueryResult:
    """One number from a query, or why there is none.

    `value` may be NaN or infinite (evaluation calls that inconclusive). `connection_failed` says
    Prometheus could not be reached at all, so further queries in the same pass would fail too.
    """

    value: float | None = None
    error: str | None = None
    connection_failed: bool = False


@dataclass(frozen=True)
class BucketsResult:
    """Cumulative histogram buckets (upper bound, count) sorted by bound, or why there are none."""

    buckets: tuple[tuple[float, float], ...] = ()
    error: str | None = None
    connection_failed: bool = False


class MetricsSource(Protocol):
    """Where measurements come from."""

    def query_scalar(self, promql: str) -> QueryResult:
        """Run an instant query that must return one number; never raises."""
        ...

    def query_buckets(self, promql: str) -> BucketsResult:
        """Run an instant query returning one series per `le` label; never raises."""
        ...


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 3] + "..."


def _float(raw: object) -> float | None:
    try:
        return float(str(raw))  # Prometheus sends numbers as strings: "0.05", "NaN", "+Inf"
    except ValueError:
        return None


def scalar_from_result(result: object) -> QueryResult:
    """The number in the `data.result` of an instant query (vector or scalar), or why there is none."""
    if not isinstance(result, list):
        return QueryResult(error=f"unexpected query result {_short(repr(result))}")
    if not result:
        return QueryResult(error="no data")
    # A scalar (or string) result is one [timestamp, "value"] pair instead of a list of series.
    if len(result) == 2 and not isinstance(result[0], dict):
        value = _float(result[1])
        return QueryResult(value=value) if value is not None else QueryResult(error="result is not a number")
    if len(result) > 1:
        return QueryResult(error=f"query returned {len(result)} series; it must return one number (aggregate with sum)")
    series = result[0]
    if not isinstance(series, dict) or "value" not in series:
        return QueryResult(error="query returned a range vector; it must return one number")
    sample = series["value"]
    value = _float(sample[1]) if isinstance(sample, list) and len(sample) == 2 else None
    return QueryResult(value=value) if value is not None else QueryResult(error="result is not a number")


def buckets_from_result(result: object) -> BucketsResult:
    """Histogram buckets from the `data.result` of a `sum by (le)` query, made cumulative-monotone
    (increase() extrapolates each bucket on its own, which can break the order by a fraction)."""
    if not isinstance(result, list):
        return BucketsResult(error=f"unexpected query result {_short(repr(result))}")
    if not result:
        return BucketsResult(error="no data")
    pairs: list[tuple[float, float]] = []
    for series in result:
        if not isinstance(series, dict) or "le" not in (series.get("metric") or {}):
            return BucketsResult(error="a bucket query must return one series per le label: use sum by (le)")
        bound = _float(series["metric"]["le"])
        sample = series.get("value")
        count = _float(sample[1]) if isinstance(sample, list) and len(sample) == 2 else None
        if bound is None or count is None or math.isnan(count):
            return BucketsResult(error="a bucket or its count is not a number")
        pairs.append((bound, count))
    pairs.sort()
    if not math.isinf(pairs[-1][0]):
        return BucketsResult(error='the buckets have no le="+Inf" bucket')
    running = 0.0
    monotone: list[tuple[float, float]] = []
    for bound, count in pairs:
        running = max(running, count)
        monotone.append((bound, running))
    return BucketsResult(buckets=tuple(monotone))


_STATUS = re.compile(r"HTTP Status Code (\d+) \((.*)\)\s*$", re.DOTALL)
_API_ERROR = re.compile(r'"error"\s*:\s*"((?:[^"\\]|\\.)*)"')


def _http_error(exc: PrometheusApiClientException) -> str:
    text = str(exc)
    match = _STATUS.match(text)
    if match is None:
        return _short(text)
    code, body = match.groups()
    detail = _API_ERROR.search(body)
    return _short(f"Prometheus answered HTTP {code}" + (f": {detail.group(1)}" if detail else ""))


class PrometheusSource:
    """A MetricsSource on one Prometheus server."""

    def __init__(self, client: PrometheusConnect, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.client = client
        self.timeout = timeout

    @property
    def address(self) -> str:
        return str(self.client.url)

    def query_scalar(self, promql: str) -> QueryResult:
        answer = self._query(promql)
        if isinstance(answer, QueryResult):
            return answer
        return scalar_from_result(answer)

    def query_buckets(self, promql: str) -> BucketsResult:
        answer = self._query(promql)
        if isinstance(answer, QueryResult):
            return BucketsResult(error=answer.error, connection_failed=answer.connection_failed)
        return buckets_from_result(answer)

    def _query(self, promql: str) -> object:
        """The raw `data.result`, or a QueryResult saying why there is none."""
        try:
            result = self.client.custom_query(
                promql,
                # Prometheus stops evaluating after this, so a heavy query does not keep running.
                params={"timeout": f"{max(1, round(self.timeout * 1000))}ms"},
                timeout=(self.timeout, self.timeout + _READ_GRACE_SECONDS),
            )
        except PrometheusApiClientException as exc:
            return QueryResult(error=_http_error(exc))
        except requests.Timeout:
            return QueryResult(
                error=f"Prometheus at {self.address} did not answer within {self.timeout:g}s",
                connection_failed=True,
            )
        except requests.ConnectionError as exc:
            return QueryResult(
                error=_short(f"cannot reach Prometheus at {self.address}: {_root_cause(exc)}"),
                connection_failed=True,
            )
        except (ValueError, KeyError, TypeError) as exc:  # a 200 that is not the Prometheus API
            return QueryResult(error=_short(f"unexpected answer from {self.address}: {exc!r}"))
        except Exception as exc:  # never let a query crash a reconcile
            return QueryResult(error=_short(f"query to {self.address} failed: {exc!r}"))
        return result


def _root_cause(exc: BaseException) -> str:
    # requests wraps urllib3 wraps socket errors; the innermost says what happened (refused, DNS...).
    for _ in range(10):  # bounded: exception chains can be cyclic
        inner = exc.__cause__ or exc.__context__
        if inner is None:
            break
        exc = inner
    return str(exc) or type(exc).__name__


class UnavailableSource:
    """A MetricsSource that cannot query: every result is an error saying why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def query_scalar(self, promql: str) -> QueryResult:
        return QueryResult(error=self.reason, connection_failed=True)

    def query_buckets(self, promql: str) -> BucketsResult:
        return BucketsResult(error=self.reason, connection_failed=True)


_clients: OrderedDict[tuple[str, str | None, bool], PrometheusConnect] = OrderedDict()
_clients_lock = threading.Lock()


def _client(address: str, bearer_token: str | None, verify_tls: bool) -> PrometheusConnect:
    """A cached PrometheusConnect per (address, token, TLS verification): sessions and their connection
    pools are reused across reconciles instead of being rebuilt every time."""
    key = (address, bearer_token, verify_tls)
    with _clients_lock:
        client = _clients.get(key)
        if client is not None:
            _clients.move_to_end(key)
            return client
        client = PrometheusConnect(
            url=address,
            headers={"Authorization": f"Bearer {bearer_token}"} if bearer_token else None,
            disable_ssl=not verify_tls,
            # No retries: one request per query. PrometheusConnect's default retries 503s with backoff.
            retry=Retry(total=0, read=False, redirect=False, status_forcelist=()),
        )
        _clients[key] = client
        while len(_clients) > _CACHE_SIZE:  # e.g. rotated tokens: drop the least recently used
            _, old = _clients.popitem(last=False)
            old.close()
        return client


def clear_client_cache() -> None:
    """Close and forget every cached client (tests, shutdown)."""
    with _clients_lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


def prometheus_source(
    connection: PrometheusConnection,
    *,
    timeout: str | None = None,
    bearer_token: str | None = None,
) -> MetricsSource:
    """The source for one of the operator's Prometheus connections; the caller reads the token."""
    seconds = parse_duration(timeout or connection.timeout)
    client = _client(connection.address.rstrip("/"), bearer_token, not connection.insecure_skip_verify)
    return PrometheusSource(client, timeout=seconds)


def measure(source: MetricsSource, queries: list[MetricQuery], now: datetime) -> list[Measurement]:
    """Run the due queries and judge each; one Measurement per query, in order (see measure_all)."""
    return measure_all(source, queries, now)[0]


@dataclass(frozen=True)
class _Gathered:
    evidence: Evidence | None = None
    error: str | None = None
    connection_failed: bool = False


def gather_evidence(source: MetricsSource, queries: dict[str, str]) -> _Gathered:
    """The evidence of one version from its rendered shape queries.

    Counts: no trials is no data; trials without a bad-event series is zero bad events (servers create
    an error series only at the first error), never "no data".
    """
    if "buckets" in queries:
        buckets = source.query_buckets(queries["buckets"])
        if buckets.error is not None:
            return _Gathered(error=buckets.error, connection_failed=buckets.connection_failed)
        return _Gathered(Buckets(buckets.buckets))
    first, second = ("trials", "bad") if "trials" in queries else ("count", "total")
    size = source.query_scalar(queries[first])
    if size.error is not None or size.value is None or not math.isfinite(size.value):
        return _Gathered(error=size.error or f"{first} is {size.value}", connection_failed=size.connection_failed)
    part = source.query_scalar(queries[second])
    if part.connection_failed or (part.error is not None and part.error != "no data"):
        return _Gathered(error=part.error, connection_failed=part.connection_failed)
    value = part.value if part.value is not None and math.isfinite(part.value) else 0.0
    if first == "trials":
        return _Gathered(Counts(bad=value, trials=size.value))
    return _Gathered(Sums(total=value, count=size.value))


def _empty(evidence: Evidence) -> bool:
    if isinstance(evidence, Counts):
        return evidence.trials < 0.5
    if isinstance(evidence, Sums):
        return evidence.count < 0.5
    return not evidence.buckets or evidence.buckets[-1][1] < 0.5


def _judge_evidence(
    source: MetricsSource, query: MetricQuery, now: datetime
) -> tuple[Measurement, DetectorState | None, str | None]:
    """The measurement of an evidence-shaped metric, its detector state, and a connection error if any."""
    assert query.resolved is not None and query.evidence_queries is not None
    name = query.metric
    own = gather_evidence(source, query.evidence_queries)
    if own.error is not None or own.evidence is None:
        unreachable = own.error if own.connection_failed else None
        return inconclusive(name, query.version, own.error or "no data", now), query.state, unreachable
    if _empty(own.evidence):
        return inconclusive(name, query.version, "no traffic yet", now), query.state, None
    baseline: Evidence | None = None
    if query.baseline_evidence_queries is not None:
        stable = gather_evidence(source, query.baseline_evidence_queries)
        if stable.connection_failed:
            return inconclusive(name, query.version, stable.error or "", now), query.state, stable.error
        if stable.evidence is None or _empty(stable.evidence):
            reason = f"{name} cannot be compared to the stable version: {stable.error or 'no traffic on it'}"
            return inconclusive(name, query.version, reason, now), query.state, None
        baseline = stable.evidence
    measurement, state = judge(query.resolved, own.evidence, baseline, query.state, now, version=query.version)
    return measurement, state, None


def measure_all(
    source: MetricsSource, queries: list[MetricQuery], now: datetime
) -> tuple[list[Measurement], dict[str, DetectorState]]:
    """Run the due queries and judge each: the measurements in order, and the change detectors' new states.

    A query planned with an error is inconclusive without asking Prometheus. Once Prometheus cannot be
    reached, the rest of this pass is inconclusive with the same error instead of waiting on each.
    Metrics with an evidence shape are judged on their counts; a plain query on its value.
    """
    measurements: list[Measurement] = []
    states: dict[str, DetectorState] = {}
    unreachable: str | None = None
    for query in queries:
        if query.error is not None or query.resolved is None or query.query is None:
            measurements.append(inconclusive(query.metric, query.version, query.error or "no query", now))
            continue
        if unreachable is not None:
            measurements.append(inconclusive(query.metric, query.version, unreachable, now))
            continue
        if query.evidence_queries is not None:
            measurement, state, unreachable = _judge_evidence(source, query, now)
            measurements.append(measurement)
            if state is not None:
                states[query.metric] = state
            continue
        result = source.query_scalar(query.query)
        baseline = QueryResult()
        if query.baseline_query is not None and result.value is not None and math.isfinite(result.value):
            baseline = source.query_scalar(query.baseline_query)
        for answer in (result, baseline):
            if answer.connection_failed:
                unreachable = answer.error
        measurements.append(
            evaluate(
                query.resolved,
                result.value,
                baseline.value,
                now,
                version=query.version,
                error=result.error,
                baseline_error=baseline.error,
            )
        )
    return measurements, states


def run_analysis(
    source: MetricsSource,
    scope: AnalysisScope,
    analysis: AnalysisSpec,
    status: AnalysisStatus | None,
    now: datetime,
    *,
    identity: RolloutIdentity,
) -> tuple[AnalysisStatus, AnalysisSummary]:
    """One analysis pass: measure the metrics due now and fold them into the status and a summary.

    Cheap when nothing is due (no query is sent); call it on every reconcile while a scope is active.
    """
    queries = due_metrics(scope, analysis, status, now, identity=identity)
    measurements, states = measure_all(source, queries, now)
    return fold(scope, analysis, status, measurements, now, states=states)
