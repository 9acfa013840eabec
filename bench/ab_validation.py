"""Does the A/B decision keep its promises? Simulated tests through the real decision code.

1. A/A (no difference), looked at after every batch of requests: how often does our sequential
   test name a winner or a loser over the whole test, against a naive two-sample t-test repeated at
   every look? Both at alpha = 0.05; the promise is "at most alpha".
2. A/B with a known lift (the minimum effect): power within the budget of looks, and median samples
   per variant to a decision, against a fixed-horizon z-test sized for the same power (one look, at
   the samples it needs).

Each figure is computed for several seeds; the median and the spread are printed.

    .venv/bin/python bench/ab_validation.py --runs 1000 --seeds 3

Nothing is asserted: these are figures, not a test (tests/unit/test_analysis_abtest.py asserts the A/A rate).
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import dataclass

import numpy as np
from scipy import stats

from modelrollout.analysis.abtest import MetricPlan, decide, fixed_horizon_samples, proportion_sample

ALPHA, POWER = 0.05, 0.8
RATE, LIFT = 0.30, 0.02  # success rate of the control, and the lift of the challenger (= minimum effect)
PER_LOOK = 200  # requests per variant between looks (one analysis interval)
MIN_SAMPLES = 500


@dataclass(frozen=True)
class RunResult:
    decided_at: int | None  # samples per variant when a decision came, None: never
    decision: str | None


def sequential(rng: np.random.Generator, lift: float, looks: int) -> RunResult:
    plan = MetricPlan("success", "higher", LIFT)
    a = np.cumsum(rng.binomial(PER_LOOK, RATE, size=looks))
    b = np.cumsum(rng.binomial(PER_LOOK, RATE + lift, size=looks))
    for look in range(looks):
        n = PER_LOOK * (look + 1)
        samples = {"success": {"a": proportion_sample(a[look], n), "b": proportion_sample(b[look], n)}}
        verdict = decide(
            [plan], "a", ["a", "b"], samples, alpha=ALPHA, power=POWER, min_samples=MIN_SAMPLES, expired=False
        )
        if verdict.decision is not None:
            return RunResult(n, verdict.decision)
    return RunResult(None, None)


def naive_t_test(rng: np.random.Generator, looks: int) -> bool:
    """A/A with Welch's t-test at every look (on the 0/1 outcomes): any p < alpha is a false winner."""
    a = rng.binomial(1, RATE, size=(looks, PER_LOOK))
    b = rng.binomial(1, RATE, size=(looks, PER_LOOK))
    for look in range(max(1, MIN_SAMPLES // PER_LOOK) - 1, looks):
        result = stats.ttest_ind(a[: look + 1].ravel(), b[: look + 1].ravel(), equal_var=False)
        if result.pvalue < ALPHA:
            return True
    return False


def fixed_horizon(rng: np.random.Generator, n: int) -> bool:
    a = rng.binomial(n, RATE) / n
    b = rng.binomial(n, RATE + LIFT) / n
    z = (b - a) / np.sqrt((a * (1 - a) + b * (1 - b)) / n)
    return bool(z > stats.norm.ppf(1 - ALPHA / 2))


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.4g} (seeds: {', '.join(f'{v:.4g}' for v in values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="simulated tests per figure and seed")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--looks", type=int, default=100, help="looks per A/A test (the budget of an A/B test)")
    args = parser.parse_args()

    fixed_n = fixed_horizon_samples(RATE * (1 - RATE), LIFT, ALPHA, POWER)
    print(f"control rate {RATE}, lift {LIFT}, alpha {ALPHA}, power {POWER}, {PER_LOOK} requests/variant per look")
    print(f"fixed-horizon z-test needs {fixed_n:,.0f} per variant; A/B budget {args.looks * PER_LOOK:,} per variant\n")

    ours_fp, naive_fp, power, median_n, fixed_power = [], [], [], [], []
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        aa = [sequential(rng, 0.0, args.looks) for _ in range(args.runs)]
        ours_fp.append(sum(r.decision is not None for r in aa) / args.runs)
        naive_fp.append(sum(naive_t_test(rng, args.looks) for _ in range(args.runs)) / args.runs)
        ab = [sequential(rng, LIFT, args.looks) for _ in range(args.runs)]
        wins = [r.decided_at for r in ab if r.decision == "upgrade" and r.decided_at is not None]
        power.append(len(wins) / args.runs)
        median_n.append(float(statistics.median(wins)) if wins else float("nan"))
        fixed_power.append(sum(fixed_horizon(rng, round(fixed_n)) for _ in range(args.runs)) / args.runs)

    print(f"A/A false-positive rate, {args.looks} looks each ({args.runs} tests per seed):")
    print(f"  sequential (ours)        {spread(ours_fp)}")
    print(f"  naive repeated t-test    {spread(naive_fp)}")
    print(f"\nA/B with a true lift of {LIFT}:")
    print(f"  sequential power         {spread(power)}")
    print(f"  sequential median n      {spread(median_n)} per variant to an upgrade")
    print(f"  fixed-horizon power      {spread(fixed_power)} at n = {fixed_n:,.0f} per variant (one look)")


if __name__ == "__main__":
    main()
