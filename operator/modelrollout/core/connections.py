"""Whether a Rollout may use the Prometheus connection it names (pure)."""

from __future__ import annotations

from modelrollout.api.rollout import RolloutSpec
from modelrollout.api.settings import OperatorSettings


def connection_problems(spec: RolloutSpec, settings: OperatorSettings, namespace: str) -> list[str]:
    """InvalidSpec messages for spec.analysis.prometheus.connection.

    A Rollout that names no connection gets the default one; when the installer configured none,
    its queries are inconclusive with a message saying so (the operator's setup, not the spec, is
    what needs fixing), so that case is not reported here.
    """
    analysis = spec.analysis
    wanted = analysis.prometheus.connection if analysis and analysis.prometheus else None
    if analysis is None or wanted is None:
        return []
    usable = sorted(c.name for c in settings.prometheus_connections if c.allows(namespace))
    offer = f"connections available here: {', '.join(usable)}" if usable else "no connection is available here"
    field = "spec.analysis.prometheus.connection"
    connection = settings.connection(wanted)
    if connection is None:
        return [f"{field}: the operator has no Prometheus connection named {wanted!r} ({offer})"]
    if not connection.allows(namespace):
        return [f"{field}: connection {wanted!r} is not available to namespace {namespace} ({offer})"]
    return []
