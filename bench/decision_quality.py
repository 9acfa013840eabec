"""How often analysis makes the right call: simulated rollouts through the real analysis code.

For each scenario (stable and candidate behaviour), N canary rollouts are simulated scrape by scrape
(1 s scrapes, requests paced at a fixed rate as the simulator does, outcomes, durations, quality
and cost drawn from the simulator's own distributions), and judged at every analysis interval (2 s)
along the demo's steps: 5 s pause, analysis [error-rate, latency-p95, quality-score], 5 s pause, analysis
[error-rate, latency-p95, quality-score, cost-per-request], promote; every metric also runs in the
background from the first look.
A critical failure rolls back; a decision not reached within `--horizon` seconds is "undecided".

Two methods, side by side:
- old: today's point estimate over the 10 s window (the presets' rate() queries), judged by
  `analysis.evaluate.evaluate` (a plain `query` metric still works this way);
- new: the evidence since the candidate got traffic (counts, buckets, sums), judged by
  `analysis.evidence.judge` with the Rollout's error budget (default 1 %).

    .venv/bin/python bench/decision_quality.py --rollouts 2000

Prints one table per traffic level (the demo's 40 requests/s per version, and 10x lower). Figures,
not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import numpy as np

from modelrollout.analysis.evaluate import evaluate
from modelrollout.analysis.evidence import Buckets, Counts, DetectorState, Evidence, Sums, judge
from modelrollout.analysis.metrics import ResolvedMetric, resolve_metric
from modelrollout.analysis.stats import histogram_rank_value
from modelrollout.api.rollout import AnalysisSpec, MetricSpec
from modelrollout.sim.metrics import DURATION_BUCKETS
from modelrollout.sim.params import SimParams

SCRAPE = 1.0
INTERVAL = 2.0
WINDOW = 10  # scrapes in the old method's rate() window
PAUSE = 5.0
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
BOUNDS = np.array([*DURATION_BUCKETS, math.inf])

# The demo's metrics, plus qualityScore (in the steps too) so the quality scenario has a metric to fail.
METRICS = [
    {"name": "error-rate", "preset": "errorRate"},
    {"name": "latency-p95", "preset": "latencyP95"},
    {"name": "quality-score", "preset": "qualityScore"},
    {"name": "cost-per-request", "preset": "costPerRequest"},
]
STEPS: list[tuple[str, ...]] = [
    ("error-rate", "latency-p95", "quality-score"),
    ("error-rate", "latency-p95", "quality-score", "cost-per-request"),
]


@dataclass(frozen=True)
class Scenario:
    name: str
    candidate: SimParams
    stable: SimParams = field(default_factory=SimParams)
    bad: bool = False  # what the right call is: roll back (True) or promote


def scenarios() -> list[Scenario]:
    base = SimParams(error_rate=0.01)
    return [
        Scenario("healthy, identical to stable", base, base),
        Scenario("error 4 % (max 5 %)", replace(base, error_rate=0.04), base),
        Scenario("error 1 % -> 8 %", replace(base, error_rate=0.08), base, bad=True),
        Scenario("error 1 % -> 20 %", replace(base, error_rate=0.20), base, bad=True),
        Scenario("p95 1.3x stable", replace(base, latency_ms=156, latency_jitter_ms=39), base),
        Scenario("p95 2x stable", replace(base, latency_ms=240, latency_jitter_ms=60), base, bad=True),
        Scenario("quality 0.85 -> 0.6", replace(base, quality=0.6), base, bad=True),
        Scenario("cost 1x stable (warning only)", base, base),
        Scenario("cost 3x stable (warning only)", replace(base, cost_per_request=0.006), base),
    ]


class Traffic:
    """Per-scrape counts of one version, drawn as the simulator draws its requests."""

    def __init__(self, params: SimParams, rps: float, rng: np.random.Generator) -> None:
        self.params, self.rps, self.rng = params, rps, rng
        self.carry = 0.0
        # Running totals after each scrape (index 0: before the first), so any range is one subtraction.
        self.requests: list[int] = [0]
        self.errors: list[int] = [0]
        self.buckets: list[np.ndarray] = [np.zeros(len(BOUNDS))]
        self.quality_sum: list[float] = [0.0]
        self.quality_count: list[int] = [0]
        self.cost: list[float] = [0.0]

    @property
    def scrapes(self) -> int:
        return len(self.requests) - 1

    def scrape(self) -> None:
        p = self.params
        self.carry += self.rps * SCRAPE
        n = int(self.carry)
        self.carry -= n
        errors = int(self.rng.binomial(n, p.error_rate)) if n else 0
        sigma2 = math.log1p((p.latency_jitter_ms / p.latency_ms) ** 2)
        durations = self.rng.lognormal(math.log(p.latency_ms) - sigma2 / 2, math.sqrt(sigma2), n) / 1000
        per_bucket = np.bincount(np.searchsorted(BOUNDS, durations), minlength=len(BOUNDS))
        good = n - errors
        concentration = max(p.quality * (1 - p.quality) / p.quality_jitter**2 - 1, 1.0)
        quality = self.rng.beta(p.quality * concentration, (1 - p.quality) * concentration, good)
        tokens = np.maximum(0, np.round(self.rng.normal(p.tokens_per_request, p.tokens_per_request * 0.1, n)))
        self.requests.append(self.requests[-1] + n)
        self.errors.append(self.errors[-1] + errors)
        self.buckets.append(self.buckets[-1] + np.cumsum(per_bucket[: len(BOUNDS)]))
        self.quality_sum.append(self.quality_sum[-1] + float(quality.sum()))
        self.quality_count.append(self.quality_count[-1] + good)
        self.cost.append(self.cost[-1] + float(tokens.sum() * p.cost_per_request / p.tokens_per_request))

    def evidence(self, metric: str, start: int, end: int) -> Evidence:
        """What Prometheus would answer for scrapes [start, end)."""
        if metric == "error-rate":
            return Counts(
                float(self.errors[end] - self.errors[start]), float(self.requests[end] - self.requests[start])
            )
        if metric == "latency-p95":
            total = self.buckets[end] - self.buckets[start]
            return Buckets(tuple(zip(BOUNDS.tolist(), total.tolist(), strict=True)))
        if metric == "quality-score":
            count = float(self.quality_count[end] - self.quality_count[start])
            return Sums(self.quality_sum[end] - self.quality_sum[start], count)
        return Sums(self.cost[end] - self.cost[start], float(self.requests[end] - self.requests[start]))


def point_value(evidence: Evidence) -> float | None:
    """The old method's number: what the preset's rate() query returns over the window."""
    if isinstance(evidence, Counts):
        return evidence.bad / evidence.trials if evidence.trials else None
    if isinstance(evidence, Buckets):
        n = evidence.buckets[-1][1]
        if not n:
            return None
        value = histogram_rank_value(evidence.buckets, 0.95 * n)
        return value if math.isfinite(value) else DURATION_BUCKETS[-1]
    return evidence.total / evidence.count if evidence.count else None


@dataclass(frozen=True)
class Outcome:
    decision: str  # rolled back | promoted | undecided
    seconds: float
    warned: bool


Judge = Callable[[str, int, int, datetime], str]


def run_rollout(
    scenario: Scenario,
    rps: float,
    rng: np.random.Generator,
    method: str,
    resolved: dict[str, ResolvedMetric],
    horizon: float,
) -> Outcome:
    candidate, stable = Traffic(scenario.candidate, rps, rng), Traffic(scenario.stable, rps, rng)
    states: dict[str, DetectorState | None] = {}
    warned = False
    step, step_since, passed = 0, PAUSE, set[str]()
    t = 0.0
    while t < horizon:
        t += INTERVAL
        while candidate.scrapes < int(t / SCRAPE) - 1:  # Prometheus lags one scrape
            candidate.scrape()
            stable.scrape()
        end = candidate.scrapes
        now = EPOCH + timedelta(seconds=t)
        in_step = step < len(STEPS) and t >= step_since
        for name, metric in resolved.items():
            if method == "old":
                start = max(0, end - WINDOW)
                value = point_value(candidate.evidence(name, start, end))
                baseline = point_value(stable.evidence(name, start, end)) if metric.needs_baseline else None
                verdict = evaluate(metric, value, baseline, now, version="c").verdict
            else:
                own = candidate.evidence(name, 0, end)
                if point_value(own) is None:
                    verdict = "inconclusive"
                else:
                    base = stable.evidence(name, 0, end) if metric.needs_baseline else None
                    measurement, states[name] = judge(metric, own, base, states.get(name), now, version="c")
                    verdict = measurement.verdict
            if verdict == "fail":
                if metric.severity == "critical":
                    return Outcome("rolled back", t, warned)
                warned = True
            # As in analysis.fold: a warning metric's failure warns but does not hold the step.
            decided = verdict == "pass" or (verdict == "fail" and metric.severity == "warning")
            if in_step and decided and name in STEPS[step]:
                passed.add(name)
        if in_step and passed >= set(STEPS[step]):
            step, step_since, passed = step + 1, t + PAUSE, set()
            if step == len(STEPS):
                return Outcome("promoted", t, warned)
    return Outcome("undecided", horizon, warned)


def row(scenario: Scenario, rps: float, method: str, rollouts: int, seed: int, horizon: float) -> str:
    analysis = AnalysisSpec.model_validate({"metrics": METRICS})
    resolved = {m["name"]: resolve_metric(MetricSpec.model_validate(m), analysis) for m in METRICS}
    rng = np.random.default_rng(seed)
    outcomes = [run_rollout(scenario, rps, rng, method, resolved, horizon) for _ in range(rollouts)]
    share = {
        kind: sum(o.decision == kind for o in outcomes) / rollouts for kind in ("rolled back", "promoted", "undecided")
    }
    decided = sorted(o.seconds for o in outcomes if o.decision != "undecided")
    median = f"{statistics.median(decided):6.0f}" if decided else "     -"
    p95 = f"{decided[min(len(decided) - 1, int(0.95 * len(decided)))]:6.0f}" if decided else "     -"
    warned = sum(o.warned for o in outcomes) / rollouts
    return (
        f"{scenario.name:<32} {method:<4} {100 * share['rolled back']:7.2f} {100 * share['promoted']:7.2f} "
        f"{100 * share['undecided']:7.2f} {median} {p95} {100 * warned:7.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rollouts", type=int, default=2000, help="simulated rollouts per row")
    parser.add_argument("--rps", type=float, nargs="*", default=[40.0, 4.0], help="requests/s per version")
    parser.add_argument("--horizon", type=float, default=600.0, help="seconds before a rollout counts as undecided")
    parser.add_argument("--only", nargs="*", default=[""], help="run the scenarios whose name contains one of these")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args(argv)
    print(f"{args.rollouts} rollouts per row; analysis every {INTERVAL:g} s, 1 s scrapes, error budget 1 %")
    header = (
        f"{'scenario':<32} {'':<4} {'rolled':>7} {'promo':>7} {'undec':>7} {'med s':>6} {'p95 s':>6} {'warned':>7}\n"
        f"{'':<32} {'':<4} {'back %':>7} {'ted %':>7} {'ided %':>7} {'':>6} {'':>6} {'%':>7}"
    )
    for rps in args.rps:
        print(f"\n{rps:g} requests/s per version")
        print(header, flush=True)
        for index, scenario in enumerate(scenarios()):
            if not any(part in scenario.name for part in args.only):
                continue
            for method in ("old", "new"):
                started = time.monotonic()
                line = row(scenario, rps, method, args.rollouts, args.seed + index, args.horizon)
                print(f"{line}   ({time.monotonic() - started:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
