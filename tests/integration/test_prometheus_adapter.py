"""The Prometheus adapter against a real Prometheus scraping real simulators, and its HTTP behaviour
(timeouts, no retries, bearer token) against tiny local servers that record what they receive.

Nothing here asserts on wall-clock time: a timeout that was not honoured would hang the test
until pytest's own timeout instead.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from modelrollout.adapters.prometheus import PrometheusSource, measure, prometheus_source
from modelrollout.analysis.fold import fold
from modelrollout.analysis.plan import RolloutIdentity, due_metrics
from modelrollout.api.rollout import AnalysisSpec
from modelrollout.api.settings import PrometheusConnection
from modelrollout.core.analysis_contract import AnalysisScope
from modelrollout.devenv import LocalPrometheus
from modelrollout.devenv.processes import free_port
from modelrollout.sim import SimulatorFleet, SimulatorProcess

NAMESPACE = "models"
ANALYSIS = AnalysisSpec.model_validate(
    {
        "interval": "10s",
        "window": "10s",
        "metrics": [
            {"name": "error-rate", "preset": "errorRate"},
            {"name": "latency-p95", "preset": "latencyP95"},
        ],
    }
)


def connection(address: str, timeout: str = "5s") -> PrometheusConnection:
    """One of the operator's Prometheus connections, as its settings would define it."""
    return PrometheusConnection(name="test", address=address, timeout=timeout)


def source_for(prometheus: LocalPrometheus, timeout: str = "5s") -> PrometheusSource:
    source = prometheus_source(connection(prometheus.url, timeout))
    assert isinstance(source, PrometheusSource)
    return source


def wait_for_window(prometheus: LocalPrometheus, *simulators: SimulatorProcess, seconds: float = 11) -> None:
    """Until Prometheus holds `seconds` of samples of every simulator, so a 10s window is full."""
    until = time.time() + seconds
    for simulator in simulators:
        prometheus.wait_for_target_up(simulator.address)
    for simulator in simulators:
        prometheus.wait_for_samples_until(
            f'model_requests_total{{rollout="{simulator.rollout}",version="{simulator.version}"}}', until
        )


def scope(rollout: str, version: str, stable: str | None, *metrics: str) -> AnalysisScope:
    return AnalysisScope(
        version=f"{rollout}-{version}",
        version_label=version,
        stable_version=f"{rollout}-{stable}" if stable else None,
        stable_label=stable,
        background_metrics=metrics,
    )


def test_presets_measure_the_simulated_model(prometheus: LocalPrometheus, simulators: SimulatorFleet) -> None:
    # 100 requests/s over 10 s: ~1000 requests, standard error of the ratio ~0.013; ±0.06 is > 4 SE.
    stable = simulators.start("chat", "1.0.0", namespace=NAMESPACE, rps=100, error_rate=0.01, latency_ms=100, seed=1)
    candidate = simulators.start("chat", "2.0.0", namespace=NAMESPACE, rps=100, error_rate=0.2, latency_ms=300, seed=2)
    wait_for_window(prometheus, stable, candidate)
    identity = RolloutIdentity(rollout="chat", namespace=NAMESPACE, model="chat")
    active = scope("chat", "2.0.0", "1.0.0", "error-rate", "latency-p95")

    queries = due_metrics(active, ANALYSIS, None, datetime.now(UTC), identity=identity)
    results = {m.metric: m for m in measure(source_for(prometheus), queries, datetime.now(UTC))}

    error_rate = results["error-rate"]
    assert error_rate.value is not None and abs(error_rate.value - 0.2) <= 0.06
    assert error_rate.verdict == "fail"
    assert error_rate.message.startswith("error-rate=0.") and "above max 0.05" in error_rate.message
    latency = results["latency-p95"]
    # p95 of N(300ms, 30ms) against p95 of N(100ms, 30ms): well above 1.5x.
    assert latency.value is not None and latency.baseline is not None
    assert latency.value / latency.baseline > 1.5
    assert latency.verdict == "fail"

    status, summary = fold(active, ANALYSIS, None, list(results.values()), datetime.now(UTC))
    assert summary.critical_failure is not None and "error-rate" in summary.critical_failure
    assert [t.metric for t in status.tallies] == ["error-rate", "latency-p95"]


def test_the_stable_version_passes(prometheus: LocalPrometheus, simulators: SimulatorFleet) -> None:
    stable = simulators.start("calm", "1.0.0", namespace=NAMESPACE, rps=100, error_rate=0.0, seed=3)
    wait_for_window(prometheus, stable)
    identity = RolloutIdentity(rollout="calm", namespace=NAMESPACE, model="calm")
    queries = due_metrics(
        scope("calm", "1.0.0", None, "error-rate"), ANALYSIS, None, datetime.now(UTC), identity=identity
    )
    [measurement] = measure(source_for(prometheus), queries, datetime.now(UTC))
    assert (measurement.value, measurement.verdict) == (0.0, "pass")


def test_a_version_without_series_is_inconclusive(prometheus: LocalPrometheus, simulators: SimulatorFleet) -> None:
    stable = simulators.start("sparse", "1.0.0", namespace=NAMESPACE, rps=50, seed=4)
    wait_for_window(prometheus, stable, seconds=3)
    identity = RolloutIdentity(rollout="sparse", namespace=NAMESPACE, model="sparse")
    active = scope("sparse", "9.9.9", "1.0.0", "error-rate", "latency-p95")
    queries = due_metrics(active, ANALYSIS, None, datetime.now(UTC), identity=identity)
    measurements = measure(source_for(prometheus), queries, datetime.now(UTC))
    assert [(m.metric, m.verdict, m.message) for m in measurements] == [
        ("error-rate", "inconclusive", "error-rate: no data"),
        ("latency-p95", "inconclusive", "latency-p95: no data"),
    ]
    _, summary = fold(active, ANALYSIS, None, measurements, datetime.now(UTC))
    assert summary.no_data is not None and "error-rate: no data" in summary.no_data
    assert summary.critical_failure is None


@pytest.mark.parametrize(
    ("promql", "value", "error"),
    [
        ("scalar(vector(0.25))", 0.25, None),
        ("vector(3)", 3.0, None),
        ("vector(0) / vector(0)", math.nan, None),
        ("vector(1) / vector(0)", math.inf, None),
        (
            'label_replace(vector(1), "a", "x", "", "") or label_replace(vector(2), "a", "y", "", "")',
            None,
            "2 series",
        ),
        ("sum(rate(", None, "Prometheus answered HTTP 400: "),
        ("vector(1)[1m]", None, "HTTP 400"),  # a range vector is refused by Prometheus itself
    ],
)
def test_result_shapes_from_real_prometheus(
    prometheus: LocalPrometheus, promql: str, value: float | None, error: str | None
) -> None:
    result = source_for(prometheus).query_scalar(promql)
    if value is not None and math.isnan(value):
        assert result.value is not None and math.isnan(result.value)
    else:
        assert result.value == value
    if error is None:
        assert result.error is None
    else:
        assert result.error is not None and error in result.error


def test_a_stopped_prometheus_is_an_error_not_an_exception(prometheus: LocalPrometheus) -> None:
    source = source_for(prometheus)
    assert source.query_scalar("vector(1)").value == 1.0  # a pooled connection exists now
    prometheus.stop()
    try:
        result = source.query_scalar("vector(1)")
        assert result.value is None and result.connection_failed
        assert result.error is not None and f"cannot reach Prometheus at {prometheus.url}" in result.error
        assert "refused" in result.error.lower()
    finally:
        prometheus.start()
    # The cached client recovers once Prometheus is back.
    assert source_for(prometheus).query_scalar("vector(1)").value == 1.0


# ------------------------------------------------------------- protocol checks on tiny local servers


class Recorder:
    """What a tiny server received."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, list[str]], dict[str, str]]] = []
        self.release = threading.Event()


def serve(respond: Callable[[BaseHTTPRequestHandler, Recorder], None]) -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            recorder.requests.append((url.path, parse_qs(url.query), dict(self.headers.items())))
            respond(self, recorder)

        def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", recorder
    finally:
        recorder.release.set()
        server.shutdown()
        server.server_close()


def answer(handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.fixture
def unavailable() -> Iterator[tuple[str, Recorder]]:
    yield from serve(lambda handler, _: answer(handler, 503, b"Service Unavailable"))


@pytest.fixture
def silent() -> Iterator[tuple[str, Recorder]]:
    # Accepts the request and never answers (until the test ends).
    def hang(handler: BaseHTTPRequestHandler, recorder: Recorder) -> None:
        recorder.release.wait(120)

    yield from serve(hang)


@pytest.fixture
def healthy() -> Iterator[tuple[str, Recorder]]:
    body = b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.5"]}]}}'
    yield from serve(lambda handler, _: answer(handler, 200, body))


def test_a_503_is_not_retried(unavailable: tuple[str, Recorder]) -> None:
    url, recorder = unavailable
    source = prometheus_source(connection(url))
    for attempt in range(1, 4):
        result = source.query_scalar("vector(1)")
        assert result.value is None and result.error == "Prometheus answered HTTP 503"
        assert len(recorder.requests) == attempt  # exactly one request per query


def test_the_per_query_timeout_is_honoured(silent: tuple[str, Recorder]) -> None:
    url, recorder = silent
    result = prometheus_source(connection(url, "300ms")).query_scalar("vector(1)")
    assert result.value is None and result.connection_failed
    assert result.error == f"Prometheus at {url} did not answer within 0.3s"
    [(path, params, _)] = recorder.requests
    assert path == "/api/v1/query"
    assert params["timeout"] == ["300ms"]  # Prometheus is told to give up too


def test_a_closed_port_is_an_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = prometheus_source(connection(url, "1s")).query_scalar("vector(1)")
    assert result.value is None and result.connection_failed
    assert result.error is not None and "refused" in result.error.lower()


def test_the_bearer_token_is_sent(healthy: tuple[str, Recorder]) -> None:
    url, recorder = healthy
    source = prometheus_source(connection(url), bearer_token="s3cr3t-token")
    assert source.query_scalar('up{job="x"}').value == 0.5
    [(path, params, headers)] = recorder.requests
    assert path == "/api/v1/query"
    assert params["query"] == ['up{job="x"}']
    assert headers["Authorization"] == "Bearer s3cr3t-token"
    # Without a token no Authorization header goes out.
    prometheus_source(connection(url)).query_scalar("vector(1)")
    assert "Authorization" not in recorder.requests[-1][2]
