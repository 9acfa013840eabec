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


class MetricsSource(Protocol):
    """Where measurements come from."""

    def query_scalar(self, promql: str) -> QueryResult:
        """Run an instant query that must return one number; never raises."""
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
        return scalar_from_result(result)


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
    """Run the due queries and judge each; one Measurement per query, in order.

    A query planned with an error is inconclusive without asking Prometheus. Once Prometheus cannot be
    reached, the rest of this pass is inconclusive with the same error instead of waiting on each.
    """
    measurements: list[Measurement] = []
    unreachable: str | None = None
    for query in queries:
        if query.error is not None or query.resolved is None or query.query is None:
            measurements.append(inconclusive(query.metric, query.version, query.error or "no query", now))
            continue
        if unreachable is not None:
            measurements.append(inconclusive(query.metric, query.version, unreachable, now))
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
    return measurements


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
    return fold(scope, analysis, status, measure(source, queries, now), now)
