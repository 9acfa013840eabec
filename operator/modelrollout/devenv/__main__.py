"""`python -m modelrollout.devenv up|down|status [--state-dir DIR]`: the detached local
environment without the CLI (the `modelrollout dev` commands call the same functions)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from modelrollout.devenv.dev import DEFAULT_STATE_DIR, DevEnvironment, down, up


def describe(environment: DevEnvironment) -> str:
    return (
        f"export KUBECONFIG={environment.kubeconfig}\n"
        f"# API server:  {environment.server}\n"
        f"# Prometheus:  {environment.prometheus_url}  (targets: {environment.targets_file})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modelrollout.devenv", description=__doc__)
    parser.add_argument("command", choices=("up", "down", "status"))
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    args = parser.parse_args(argv)
    if args.command == "up":
        print(describe(up(args.state_dir)))
    elif args.command == "down":
        print("stopped" if down(args.state_dir) else "nothing was running")
    else:
        environment = DevEnvironment.load(args.state_dir)
        if environment is None or not environment.alive():
            print("not running")
            return 1
        print(describe(environment))
    return 0


if __name__ == "__main__":
    sys.exit(main())
