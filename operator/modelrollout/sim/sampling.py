"""Drawing one simulated request from the configured distributions.

The statistics are honest, so tests can check Prometheus against the configuration:
- outcome: Bernoulli(error_rate);
- duration: lognormal with mean latency_ms and standard deviation latency_jitter_ms (durations
  are positive and right-skewed, as real ones are);
- quality: Beta with mean `quality` and standard deviation `quality_jitter`, only for successful
  requests (a failed request produced no answer to score);
- hallucinated: Bernoulli(hallucination_rate), only for successful requests (a failed request gave
  no answer to flag); not drawn at all when the rate is 0, so seeded streams without it are unchanged;
- tokens: normal around tokens_per_request (10 % spread), at least 0; every request is billed,
  and cost scales with tokens so its mean is cost_per_request.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from modelrollout.sim.params import SimParams


@dataclass(frozen=True)
class RequestSample:
    success: bool
    duration_seconds: float
    quality: float | None  # None for failed requests
    tokens: int
    cost_usd: float
    hallucinated: bool = False  # only ever True for successful requests


def lognormal_with_mean(rng: random.Random, mean: float, stdev: float) -> float:
    if mean <= 0:
        return 0.0
    if stdev <= 0:
        return mean
    sigma_squared = math.log1p((stdev / mean) ** 2)
    mu = math.log(mean) - sigma_squared / 2
    return rng.lognormvariate(mu, math.sqrt(sigma_squared))


def beta_with_mean(rng: random.Random, mean: float, stdev: float) -> float:
    if stdev <= 0 or mean <= 0 or mean >= 1:
        return mean
    # Beta(a, b) with a + b = k has variance mean(1-mean)/(k+1); a spread wider than a Beta can
    # have is capped at k = 1 (the widest unimodal-ish shape still centred on `mean`).
    concentration = max(mean * (1 - mean) / stdev**2 - 1, 1.0)
    return rng.betavariate(mean * concentration, (1 - mean) * concentration)


def sample_request(params: SimParams, rng: random.Random) -> RequestSample:
    success = rng.random() >= params.error_rate
    duration_ms = lognormal_with_mean(rng, params.latency_ms, params.latency_jitter_ms)
    quality = beta_with_mean(rng, params.quality, params.quality_jitter) if success else None
    hallucinated = success and params.hallucination_rate > 0 and rng.random() < params.hallucination_rate
    mean_tokens = params.tokens_per_request
    tokens = max(0, round(rng.gauss(mean_tokens, mean_tokens * 0.1))) if mean_tokens > 0 else 0
    cost = params.cost_per_request * (tokens / mean_tokens if mean_tokens > 0 else 1.0)
    return RequestSample(
        success=success,
        duration_seconds=duration_ms / 1000,
        quality=quality,
        tokens=tokens,
        cost_usd=cost,
        hallucinated=hallucinated,
    )


class TrafficPacer:
    """Turns a rate into whole requests per tick, carrying the fraction over.

    Deterministic pacing (not Poisson) keeps request counts exact, so only the per-request
    randomness above shows up in the metrics.
    """

    def __init__(self) -> None:
        self._carry = 0.0

    def due(self, rps: float, elapsed_seconds: float) -> int:
        if rps <= 0:
            self._carry = 0.0
            return 0
        # A stalled tick (suspended process) does not turn into a burst afterwards.
        self._carry += rps * min(max(elapsed_seconds, 0.0), 1.0)
        count = int(self._carry)
        self._carry -= count
        return count
