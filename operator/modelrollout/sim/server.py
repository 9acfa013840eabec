"""The simulator process: synthetic traffic in a thread, and a small HTTP API.

GET  /metrics   Prometheus exposition
GET  /healthz   {"status": "ok", ...}
GET  /control   current parameters
POST /control   JSON object with parameters to change, e.g. {"error_rate": 0.2}
GET  /, POST /predict   one real request: waits the sampled latency, 500 on a sampled error
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from modelrollout.sim.metrics import ModelMetrics
from modelrollout.sim.params import InvalidParamsError, SimParams
from modelrollout.sim.sampling import RequestSample, TrafficPacer, sample_request

TICK_SECONDS = 0.05
MAX_PREDICT_WAIT_SECONDS = 10.0
MAX_BODY_BYTES = 64 * 1024


class Simulator:
    """A simulated model version: parameters, metrics and the synthetic-traffic loop."""

    def __init__(self, rollout: str, version: str, params: SimParams, seed: int | None = None) -> None:
        self.rollout = rollout
        self.version = version
        self.metrics = ModelMetrics()
        self._params = params
        self._lock = threading.Lock()
        # Two generators so real requests (other threads, any timing) never perturb the seeded
        # synthetic stream.
        self._traffic_rng = random.Random(seed)
        self._predict_rng = random.Random(None if seed is None else seed + 1)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._traffic_loop, name="sim-traffic", daemon=True)

    @property
    def params(self) -> SimParams:
        with self._lock:
            return self._params

    def update(self, changes: Mapping[str, Any]) -> SimParams:
        with self._lock:
            self._params = self._params.updated(changes)
            return self._params

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=2)

    def serve_one(self) -> RequestSample:
        """Samples and records one request (the caller decides whether to wait its latency)."""
        with self._lock:
            sample = sample_request(self._params, self._predict_rng)
        self.metrics.record(sample)
        return sample

    def generate(self, elapsed_seconds: float, pacer: TrafficPacer) -> int:
        """Records the synthetic requests due after `elapsed_seconds`; returns how many."""
        params = self.params
        count = pacer.due(params.rps, elapsed_seconds)
        for _ in range(count):
            self.metrics.record(sample_request(params, self._traffic_rng))
        return count

    def _traffic_loop(self) -> None:
        pacer = TrafficPacer()
        last = time.monotonic()
        while not self._stopping.wait(TICK_SECONDS):
            now = time.monotonic()
            self.generate(now - last, pacer)
            last = now

    def describe(self) -> dict[str, Any]:
        return {"rollout": self.rollout, "version": self.version, "params": self.params.as_dict()}


def make_handler(simulator: Simulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "modelrollout-sim"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: 20 scrapes/s is noise
            pass

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, simulator.metrics.exposition(), "text/plain; version=0.0.4; charset=utf-8")
            elif path == "/healthz":
                self._send_json(200, {"status": "ok", "rollout": simulator.rollout, "version": simulator.version})
            elif path == "/control":
                self._send_json(200, simulator.describe())
            elif path == "/":
                self._predict()
            else:
                self._send_json(404, {"error": f"no such path {path}"})

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/control":
                self._control()
            elif path == "/predict":
                self._read_body()
                self._predict()
            else:
                self._send_json(404, {"error": f"no such path {path}"})

        def _control(self) -> None:
            try:
                changes = json.loads(self._read_body() or b"{}")
                if not isinstance(changes, dict):
                    raise InvalidParamsError("body must be a JSON object")
                simulator.update(changes)
            except (InvalidParamsError, json.JSONDecodeError) as exc:
                self._send_json(400, {"error": str(exc)})
                return
            self._send_json(200, simulator.describe())

        def _predict(self) -> None:
            sample = simulator.serve_one()
            time.sleep(min(sample.duration_seconds, MAX_PREDICT_WAIT_SECONDS))
            body = {
                "rollout": simulator.rollout,
                "version": simulator.version,
                "outcome": "success" if sample.success else "error",
                "latency_ms": round(sample.duration_seconds * 1000, 3),
                "quality": sample.quality,
                "tokens": sample.tokens,
            }
            self._send_json(200 if sample.success else 500, body)

        def _read_body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(min(length, MAX_BODY_BYTES))

        def _send_json(self, status: int, body: Any) -> None:
            self._send(status, json.dumps(body).encode(), "application/json")

        def _send(self, status: int, payload: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


def serve(simulator: Simulator, host: str, port: int) -> ThreadingHTTPServer:
    """Binds the HTTP API; the caller runs `serve_forever()`."""
    server = ThreadingHTTPServer((host, port), make_handler(simulator))
    server.daemon_threads = True
    return server
