"""The simulator's knobs and their validation (no processes, no I/O: unit-testable)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_RPS = 5000.0


class InvalidParamsError(ValueError):
    """A parameter change was rejected; the message says which and why."""


@dataclass(frozen=True)
class SimParams:
    """How the simulated model behaves. Every field can be changed while it runs."""

    error_rate: float = 0.01  # probability that a request fails
    latency_ms: float = 120.0  # mean request duration
    latency_jitter_ms: float = 30.0  # standard deviation of the duration
    quality: float = 0.85  # mean quality score (0..1) of successful answers
    quality_jitter: float = 0.05  # standard deviation of the quality score
    cost_per_request: float = 0.002  # mean USD per request
    tokens_per_request: float = 400.0  # mean tokens per request
    hallucination_rate: float = 0.0  # probability that a successful answer is flagged as hallucinated
    rps: float = 20.0  # synthetic requests per second; 0 = no synthetic traffic

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not math.isfinite(value):
                raise InvalidParamsError(f"{field.name} must be a finite number, got {value!r}")
            if value < 0:
                raise InvalidParamsError(f"{field.name} must be >= 0, got {value!r}")
        for name in ("error_rate", "quality", "hallucination_rate"):
            if getattr(self, name) > 1:
                raise InvalidParamsError(f"{name} must be between 0 and 1, got {getattr(self, name)!r}")
        if self.rps > MAX_RPS:
            raise InvalidParamsError(f"rps must be at most {MAX_RPS:g}, got {self.rps!r}")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(field.name for field in dataclasses.fields(cls))

    def updated(self, changes: Mapping[str, Any]) -> SimParams:
        """A copy with `changes` applied; rejects unknown names and non-numbers."""
        unknown = sorted(set(changes) - set(self.names()))
        if unknown:
            raise InvalidParamsError(f"unknown parameter(s) {unknown}; known: {list(self.names())}")
        clean: dict[str, float] = {}
        for name, value in changes.items():
            # bool is an int in Python, but `"rps": true` is a client bug, not 1 request/s.
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidParamsError(f"{name} must be a number, got {value!r}")
            clean[name] = float(value)
        return dataclasses.replace(self, **clean)

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)
