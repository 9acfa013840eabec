"""Figures for the userHash router's `assign`: how close each weight's share of users comes to the
weight, how many users a raised weight moves (and that none move back), and the cost of one call.

    .venv/bin/python bench/assign_split.py --users 100000 --runs 5

Pure Python, no cluster. Nothing is asserted: these are figures, not a test.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

from modelrollout.routing.assign import assign
from modelrollout.routing.userhash import route_table

STABLE = {"version": "sa-2-3-1", "label": "2.3.1", "service": "sa"}
CANDIDATE = {"version": "sa-2-4-0", "label": "2.4.0", "service": "sa-canary"}
WEIGHTS = (1, 5, 10, 20, 50, 90)


def on_candidate(users: list[str], weight: int, salt: str) -> set[str]:
    table = route_table(
        rollout="sa", namespace="ml", header="x-user-id", salt=salt, stable=STABLE, candidate=CANDIDATE, weight=weight
    )
    return {user for user in users if assign(user, table)["version"] == CANDIDATE["version"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5, help="salts (and timing runs)")
    args = parser.parse_args()
    users = [f"user-{i}" for i in range(args.users)]
    print(f"{args.users} user ids, {args.runs} salts")
    previous: dict[int, set[str]] = {}
    for weight in WEIGHTS:
        shares, errors = [], []
        for run in range(args.runs):
            chosen = on_candidate(users, weight, f"salt-{run}")
            share = 100 * len(chosen) / len(users)
            shares.append(share)
            errors.append(abs(share - weight))
            if run == 0:
                previous[weight] = chosen
        print(
            f"weight {weight:>3} %: candidate share median {statistics.median(shares):6.2f} %, "
            f"largest error {max(errors):.2f} points"
        )
    for low, high in itertools.pairwise(WEIGHTS):
        back = len(previous[low] - previous[high])
        moved = len(previous[high] - previous[low])
        print(f"{low:>3} % -> {high:>3} %: {moved} users moved to the candidate, {back} back to stable")
    table = route_table(
        rollout="sa", namespace="ml", header="x-user-id", salt="s", stable=STABLE, candidate=CANDIDATE, weight=10
    )
    timings = []
    for _ in range(args.runs):
        start = time.perf_counter()
        for user in users:
            assign(user, table)
        timings.append((time.perf_counter() - start) / len(users) * 1e6)
    print(f"assign(): median {statistics.median(timings):.2f} us per call over {args.runs} runs")


if __name__ == "__main__":
    main()
