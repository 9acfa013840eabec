"""How long the local control plane takes from start to usable, with binaries already built.

Starts and stops LocalCluster (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
kwok) N times and prints each start-up time (until /readyz is ok, the fake node is Ready and the
default ServiceAccount exists), the median and the maximum. Nothing is asserted.

    .venv/bin/python bench/controlplane_startup.py --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import time

from modelrollout.devenv import LocalCluster, ensure_binaries


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    ensure_binaries()
    seconds: list[float] = []
    for run in range(1, args.runs + 1):
        started = time.monotonic()
        with LocalCluster():
            elapsed = time.monotonic() - started
        seconds.append(elapsed)
        print(f"run {run}: ready in {elapsed:.2f} s")
    print(f"median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s over {len(seconds)} runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
