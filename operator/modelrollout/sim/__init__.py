"""A model-server simulator: synthetic traffic with configurable error rate, latency, quality and
cost, exposed as Prometheus metrics and steerable over HTTP at run time."""

from modelrollout.sim.fleet import SimulatorFleet, TargetRegistry
from modelrollout.sim.params import InvalidParamsError, SimParams
from modelrollout.sim.process import SimulatorProcess

__all__ = ["InvalidParamsError", "SimParams", "SimulatorFleet", "SimulatorProcess", "TargetRegistry"]
