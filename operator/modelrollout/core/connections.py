"""Whether a Rollout may use what it names of the installer's settings: Prometheus connections and
notification webhooks (pure)."""

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


def subscription_problems(spec: RolloutSpec, settings: OperatorSettings, namespace: str) -> list[str]:
    """InvalidSpec messages for spec.notifications: each subscription names a webhook the operator's
    installer defined and offers to this namespace."""
    if spec.notifications is None:
        return []
    usable = sorted(w.name for w in settings.notifications if w.allows(namespace))
    offer = f"webhooks available here: {', '.join(usable)}" if usable else "no webhook is available here"
    problems: list[str] = []
    for index, subscription in enumerate(spec.notifications.webhooks):
        field = f"spec.notifications.webhooks[{index}].webhook"
        webhook = settings.webhook(subscription.webhook)
        if webhook is None:
            problems.append(f"{field}: the operator has no webhook named {subscription.webhook!r} ({offer})")
        elif not webhook.allows(namespace):
            problems.append(
                f"{field}: webhook {subscription.webhook!r} is not available to namespace {namespace} ({offer})"
            )
    return problems
