"""`python -m modelrollout.sim --port 8080 --rollout R --version V [--error-rate 0.01 ...]`

Every simulator parameter (SimParams) is a flag: --error-rate, --latency-ms, --hallucination-rate, ...
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from prometheus_client import disable_created_metrics

from modelrollout.sim.params import InvalidParamsError, SimParams
from modelrollout.sim.server import Simulator, serve


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m modelrollout.sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 in a container)")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--rollout", default="demo")
    parser.add_argument("--version", default="0.0.0")
    parser.add_argument("--seed", type=int, default=None, help="seed for reproducible synthetic traffic")
    defaults = SimParams()
    for name in SimParams.names():
        parser.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(defaults, name))
    return parser.parse_args(argv)


def params_from_args(args: argparse.Namespace) -> SimParams:
    return SimParams(**{name: getattr(args, name) for name in SimParams.names()})


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        params = params_from_args(args)
    except InvalidParamsError as exc:
        print(f"invalid parameters: {exc}", file=sys.stderr)
        return 2
    disable_created_metrics()  # type: ignore[no-untyped-call]  # `_created` series are noise here
    simulator = Simulator(args.rollout, args.version, params, seed=args.seed)
    server = serve(simulator, args.host, args.port)

    def shut_down(signum: int, frame: FrameType | None) -> None:
        # shutdown() blocks until serve_forever returns, so it must run on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    simulator.start()
    host, port = server.server_address[:2]
    print(f"modelrollout-sim {args.rollout}/{args.version} listening on http://{host!s}:{port}", flush=True)
    server.serve_forever(poll_interval=0.2)
    simulator.stop()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
