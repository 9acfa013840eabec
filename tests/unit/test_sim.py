"""The simulator's parameters, statistics and HTTP API, in-process (no child processes)."""

from __future__ import annotations

import json
import math
import random
import statistics
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from modelrollout.sim.__main__ import params_from_args, parse_args
from modelrollout.sim.params import InvalidParamsError, SimParams
from modelrollout.sim.sampling import TrafficPacer, beta_with_mean, lognormal_with_mean, sample_request
from modelrollout.sim.server import Simulator, serve


class TestSimParams:
    def test_defaults_are_valid(self) -> None:
        assert SimParams().rps == 20.0

    def test_updated_changes_only_the_named_fields(self) -> None:
        params = SimParams().updated({"error_rate": 0.3, "rps": 0})
        assert params.error_rate == 0.3
        assert params.rps == 0.0
        assert params.latency_ms == SimParams().latency_ms

    def test_integers_become_floats(self) -> None:
        assert isinstance(SimParams().updated({"latency_ms": 200}).latency_ms, float)

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"error_rate": 1.5}, "between 0 and 1"),
            ({"hallucination_rate": 1.01}, "between 0 and 1"),
            ({"hallucination_rate": -0.1}, ">= 0"),
            ({"quality": -0.1}, ">= 0"),
            ({"latency_ms": float("nan")}, "finite"),
            ({"rps": 1e9}, "at most"),
            ({"rps": True}, "must be a number"),
            ({"rps": "10"}, "must be a number"),
            ({"errorRate": 0.1}, "unknown parameter"),
        ],
    )
    def test_invalid_changes_are_rejected(self, changes: dict[str, object], message: str) -> None:
        with pytest.raises(InvalidParamsError, match=message):
            SimParams().updated(changes)

    def test_cli_flags_map_to_params(self) -> None:
        args = parse_args(["--error-rate", "0.25", "--rps", "0", "--version", "2.0.0", "--seed", "3"])
        params = params_from_args(args)
        assert (params.error_rate, params.rps) == (0.25, 0.0)
        assert (args.version, args.seed) == ("2.0.0", 3)

    def test_hallucination_rate_defaults_to_zero_and_has_a_flag(self) -> None:
        assert SimParams().hallucination_rate == 0.0
        assert params_from_args(parse_args(["--hallucination-rate", "0.05"])).hallucination_rate == 0.05


class TestSampling:
    N = 20_000

    def test_error_outcomes_follow_the_error_rate(self) -> None:
        rng = random.Random(1)
        params = SimParams(error_rate=0.2)
        errors = sum(not sample_request(params, rng).success for _ in range(self.N))
        standard_error = math.sqrt(0.2 * 0.8 / self.N)
        assert abs(errors / self.N - 0.2) < 5 * standard_error

    def test_latency_has_the_configured_mean_and_spread(self) -> None:
        rng = random.Random(2)
        values = [lognormal_with_mean(rng, 120.0, 30.0) for _ in range(self.N)]
        assert statistics.fmean(values) == pytest.approx(120.0, rel=0.02)
        assert statistics.stdev(values) == pytest.approx(30.0, rel=0.05)
        assert min(values) > 0

    def test_quality_has_the_configured_mean_and_stays_in_range(self) -> None:
        rng = random.Random(3)
        values = [beta_with_mean(rng, 0.85, 0.05) for _ in range(self.N)]
        assert statistics.fmean(values) == pytest.approx(0.85, abs=0.005)
        assert statistics.stdev(values) == pytest.approx(0.05, rel=0.05)
        assert all(0 <= value <= 1 for value in values)

    def test_only_successful_requests_get_a_quality_score(self) -> None:
        rng = random.Random(4)
        samples = [sample_request(SimParams(error_rate=0.5), rng) for _ in range(1000)]
        assert all((sample.quality is None) == (not sample.success) for sample in samples)

    def test_mean_cost_and_tokens_match_the_configuration(self) -> None:
        rng = random.Random(5)
        params = SimParams(cost_per_request=0.002, tokens_per_request=400)
        samples = [sample_request(params, rng) for _ in range(self.N)]
        assert statistics.fmean(s.cost_usd for s in samples) == pytest.approx(0.002, rel=0.01)
        assert statistics.fmean(s.tokens for s in samples) == pytest.approx(400, rel=0.01)

    def test_hallucinations_follow_the_rate_among_successful_requests(self) -> None:
        rng = random.Random(7)
        params = SimParams(error_rate=0.3, hallucination_rate=0.1)
        samples = [sample_request(params, rng) for _ in range(self.N)]
        successful = [s for s in samples if s.success]
        assert not any(s.hallucinated for s in samples if not s.success)
        rate = sum(s.hallucinated for s in successful) / len(successful)
        assert abs(rate - 0.1) < 5 * math.sqrt(0.1 * 0.9 / len(successful))

    def test_no_hallucinations_by_default(self) -> None:
        rng = random.Random(8)
        assert not any(sample_request(SimParams(), rng).hallucinated for _ in range(1000))

    def test_zero_jitter_is_exact(self) -> None:
        rng = random.Random(6)
        sample = sample_request(SimParams(error_rate=0, latency_jitter_ms=0, quality_jitter=0), rng)
        assert sample.duration_seconds == pytest.approx(0.12)
        assert sample.quality == 0.85

    def test_same_seed_same_stream(self) -> None:
        first = [sample_request(SimParams(), random.Random(9)) for _ in range(5)]
        second = [sample_request(SimParams(), random.Random(9)) for _ in range(5)]
        assert first == second


class TestTrafficPacer:
    def test_emits_exactly_rate_times_time(self) -> None:
        pacer = TrafficPacer()
        total = sum(pacer.due(rps=30, elapsed_seconds=0.05) for _ in range(200))  # 10 s
        assert total in (299, 300)  # float carry may leave the last request for the next tick

    def test_zero_rate_stops_traffic_and_drops_the_carry(self) -> None:
        pacer = TrafficPacer()
        pacer.due(rps=15, elapsed_seconds=0.05)
        assert pacer.due(rps=0, elapsed_seconds=10) == 0
        assert pacer.due(rps=1, elapsed_seconds=0.5) == 0

    def test_a_stall_does_not_become_a_burst(self) -> None:
        assert TrafficPacer().due(rps=100, elapsed_seconds=60) == 100


class TestSimulator:
    def test_generate_records_every_request(self) -> None:
        simulator = Simulator("r", "1.0.0", SimParams(rps=100, error_rate=0.25), seed=1)
        count = simulator.generate(1.0, TrafficPacer())
        registry = simulator.metrics.registry
        success = registry.get_sample_value("model_requests_total", {"outcome": "success"}) or 0
        errors = registry.get_sample_value("model_requests_total", {"outcome": "error"}) or 0
        assert count == 100
        assert success + errors == 100
        assert registry.get_sample_value("model_request_duration_seconds_count") == 100
        assert registry.get_sample_value("model_quality_score_count") == success
        assert (registry.get_sample_value("model_cost_usd_total") or 0) > 0
        assert registry.get_sample_value("model_hallucinations_total") == 0

    def test_hallucinations_are_counted(self) -> None:
        simulator = Simulator("r", "1.0.0", SimParams(rps=1000, error_rate=0.5, hallucination_rate=0.2), seed=2)
        simulator.generate(1.0, TrafficPacer())
        registry = simulator.metrics.registry
        success = registry.get_sample_value("model_requests_total", {"outcome": "success"}) or 0
        hallucinations = registry.get_sample_value("model_hallucinations_total") or 0
        assert 0 < hallucinations < success
        assert hallucinations / success == pytest.approx(0.2, abs=5 * math.sqrt(0.2 * 0.8 / success))

    def test_both_outcomes_are_exposed_before_any_traffic(self) -> None:
        text = Simulator("r", "1", SimParams(rps=0)).metrics.exposition().decode()
        assert 'model_requests_total{outcome="error"} 0.0' in text
        assert 'model_requests_total{outcome="success"} 0.0' in text
        assert "model_hallucinations_total 0.0" in text


@pytest.fixture
def http_simulator() -> Iterator[str]:
    """The HTTP API on an ephemeral port, served by a thread in this process."""
    simulator = Simulator("r", "3.1.0", SimParams(rps=0, latency_ms=1, latency_jitter_ms=0), seed=1)
    server = serve(simulator, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _call(url: str, method: str = "GET", body: object = None) -> tuple[int, dict[str, object]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


class TestHttpApi:
    def test_control_round_trip(self, http_simulator: str) -> None:
        status, body = _call(f"{http_simulator}/control", "POST", {"error_rate": 1, "quality": 0.5})
        expected = SimParams(rps=0, latency_ms=1, latency_jitter_ms=0, error_rate=1, quality=0.5).as_dict()
        assert status == 200
        assert body["params"] == expected
        assert _call(f"{http_simulator}/control")[1]["params"] == expected

    @pytest.mark.parametrize("body", [{"error_rate": 2}, {"nope": 1}, [1, 2]])
    def test_bad_control_requests_get_400_and_change_nothing(self, http_simulator: str, body: object) -> None:
        status, answer = _call(f"{http_simulator}/control", "POST", body)
        assert status == 400
        assert "error" in answer
        assert (
            _call(f"{http_simulator}/control")[1]["params"]
            == SimParams(rps=0, latency_ms=1, latency_jitter_ms=0).as_dict()
        )

    def test_predict_counts_as_a_request_and_reports_errors_as_500(self, http_simulator: str) -> None:
        assert _call(f"{http_simulator}/predict", "POST", {})[1]["version"] == "3.1.0"
        _call(f"{http_simulator}/control", "POST", {"error_rate": 1})
        status, body = _call(f"{http_simulator}/predict", "POST", {})
        assert (status, body["outcome"]) == (500, "error")
        with urllib.request.urlopen(f"{http_simulator}/metrics", timeout=5) as response:
            metrics = response.read().decode()
        assert 'model_requests_total{outcome="success"} 1.0' in metrics
        assert 'model_requests_total{outcome="error"} 1.0' in metrics

    def test_healthz_and_unknown_paths(self, http_simulator: str) -> None:
        assert _call(f"{http_simulator}/healthz")[1]["status"] == "ok"
        assert _call(f"{http_simulator}/nope")[0] == 404
