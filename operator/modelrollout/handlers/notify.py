"""Notifications: which decisions of a pass to announce, and their delivery off the reconcile path.

A pass only enqueues; a small thread pool posts with retries. A slow or dead webhook therefore
never delays a rollback. Delivery is at least once: a pass whose status write loses a conflict is
redone, and may announce the same decision again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from modelrollout.adapters.kube import KubeGateway
from modelrollout.adapters.webhook import DeliveryError, deliver
from modelrollout.api.common import format_time
from modelrollout.api.notifications import NotificationTrigger, Webhook
from modelrollout.api.rollout import RolloutSpec, RolloutStatus
from modelrollout.api.settings import OperatorSettings
from modelrollout.core.actions import Action, EmitEvent
from modelrollout.handlers.telemetry import OperatorMetrics

log = logging.getLogger(__name__)

# Deliveries waiting beyond this are dropped (and counted): memory stays bounded when a webhook is down.
MAX_PENDING = 500
_ICON = {"Promoted": ":white_check_mark:", "RolledBack": ":rotating_light:", "PausedNoData": ":pause_button:"}


@dataclass(frozen=True)
class Notification:
    trigger: NotificationTrigger
    namespace: str
    rollout: str
    candidate: str | None
    stable: str | None
    phase: str | None
    reason: str
    message: str
    at: str

    def body(self) -> dict[str, Any]:
        """The JSON posted: `text` for chat webhooks (Slack format), the fields for everything else."""
        icon = _ICON.get(self.trigger, ":warning:")
        text = f"{icon} {self.namespace}/{self.rollout}: {self.trigger} ({self.reason}) {self.message}"
        return {
            "text": text,
            "trigger": self.trigger,
            "reason": self.reason,
            "namespace": self.namespace,
            "rollout": self.rollout,
            "candidateVersion": self.candidate,
            "stableVersion": self.stable,
            "phase": self.phase,
            "message": self.message,
            "at": self.at,
        }


def _condition(status: RolloutStatus, type_: str) -> tuple[bool, str, str]:
    condition = next((c for c in status.conditions if c.type == type_), None)
    if condition is None:
        return False, "", ""
    return condition.status == "True", condition.reason, condition.message


def notifications_for(
    namespace: str, name: str, before: RolloutStatus, after: RolloutStatus, actions: Sequence[Action], now: datetime
) -> list[Notification]:
    """What a pass decided that users asked to hear about, from the Events it emits and its conditions."""
    found: list[Notification] = []

    def add(trigger: NotificationTrigger, reason: str, message: str, candidate: str | None) -> None:
        found.append(
            Notification(
                trigger=trigger,
                namespace=namespace,
                rollout=name,
                candidate=candidate,
                stable=after.stable_version,
                phase=after.phase,
                reason=reason,
                message=message,
                at=format_time(now),
            )
        )

    # The candidate is cleared by a promotion or rollback; the Event's message names it.
    candidate = before.candidate_version or after.candidate_version
    for action in actions:
        if not isinstance(action, EmitEvent):
            continue
        if action.reason == "Promoted":
            add("Promoted", action.reason, action.message, candidate)
        elif action.reason in ("RolledBack", "Aborted"):
            add("RolledBack", action.reason, action.message, candidate)
        elif action.reason == "Paused" and _condition(after, "Paused")[1] == "InconclusiveAnalysis":
            add("PausedNoData", "InconclusiveAnalysis", action.message, candidate)
    warning, reason, message = _condition(after, "MetricWarning")
    if warning and not _condition(before, "MetricWarning")[0]:
        add("AnalysisWarning", reason, message, after.candidate_version)
    return found


@dataclass(frozen=True)
class Target:
    """A webhook and the namespace its Secrets are read from."""

    webhook: Webhook
    secret_namespace: str | None


class Notifier:
    """Sends notifications to the operator's webhooks that a Rollout notifies or subscribes to."""

    def __init__(
        self,
        kube: KubeGateway,
        settings: OperatorSettings,
        metrics: OperatorMetrics | None = None,
        *,
        attempts: int = 5,
        first_delay: float = 1.0,
        max_threads: int = 4,
    ) -> None:
        self.kube = kube
        self.settings = settings
        self.metrics = metrics
        self.attempts = attempts
        self.first_delay = first_delay
        self.executor = ThreadPoolExecutor(max_workers=max_threads, thread_name_prefix="notify")
        self._pending = 0
        self._lock = threading.Lock()

    def targets(self, namespace: str, spec: RolloutSpec | None) -> list[Target]:
        """Every webhook for this Rollout, once each; Secrets only ever from the operator's namespace."""
        subscribed = {sub.webhook: sub for sub in (spec.notifications.webhooks if spec and spec.notifications else [])}
        targets: list[Target] = []
        for webhook in self.settings.notifications:
            if not webhook.allows(namespace):
                continue  # a subscription to it is reported as InvalidSpec
            subscription = subscribed.get(webhook.name)
            if subscription is None and webhook.subscribers_only:
                continue
            if subscription is not None and subscription.triggers is not None:
                webhook = webhook.model_copy(update={"triggers": list(subscription.triggers)})
            targets.append(Target(webhook, self.settings.namespace))
        return targets

    def __call__(
        self,
        namespace: str,
        name: str,
        spec: RolloutSpec | None,
        before: RolloutStatus,
        after: RolloutStatus,
        actions: Sequence[Action],
        now: datetime,
    ) -> None:
        notifications = notifications_for(namespace, name, before, after, actions, now)
        if not notifications:
            return
        for target in self.targets(namespace, spec):
            for notification in notifications:
                if notification.trigger in target.webhook.triggers:
                    self.submit(target, notification)

    def submit(self, target: Target, notification: Notification) -> None:
        with self._lock:
            if self._pending >= MAX_PENDING:
                self._count(target.webhook.name, "dropped")
                log.warning(
                    "notification queue full; dropped %s for webhook %s", notification.trigger, target.webhook.name
                )
                return
            self._pending += 1
        self.executor.submit(self._send, target, notification)

    def _send(self, target: Target, notification: Notification) -> None:
        webhook = target.webhook
        try:
            url, headers = self._resolve(target)
            attempts = deliver(url, notification.body(), headers, attempts=self.attempts, first_delay=self.first_delay)
            self._count(webhook.name, "sent")
            log.debug("webhook %s: %s sent after %d attempt(s)", webhook.name, notification.trigger, attempts)
        except (DeliveryError, LookupError) as error:
            self._count(webhook.name, "failed")
            log.warning(
                "webhook %s: %s for %s/%s not delivered: %s",
                webhook.name,
                notification.trigger,
                notification.namespace,
                notification.rollout,
                error,
            )
        except Exception:
            self._count(webhook.name, "failed")
            log.exception("webhook %s: delivery failed", webhook.name)
        finally:
            with self._lock:
                self._pending -= 1

    def _resolve(self, target: Target) -> tuple[str, dict[str, str]]:
        """The URL and headers, reading Secrets now (so a rotated Secret is used at once)."""
        webhook = target.webhook
        url = webhook.url
        if webhook.url_secret_ref is not None:
            url = self._secret(target, webhook.url_secret_ref.name, webhook.url_secret_ref.key)
        headers: dict[str, str] = {}
        if webhook.authorization_secret_ref is not None:
            ref = webhook.authorization_secret_ref
            headers["Authorization"] = self._secret(target, ref.name, ref.key)
        assert url is not None  # the model requires url or urlSecretRef
        return url, headers

    def _secret(self, target: Target, name: str, key: str) -> str:
        if target.secret_namespace is None:
            raise LookupError("the operator does not know its own namespace (set POD_NAMESPACE) to read Secrets")
        value = self.kube.read_secret_key(target.secret_namespace, name, key)
        if value is None:
            raise LookupError(f"Secret {target.secret_namespace}/{name} has no key {key!r}")
        return value

    def _count(self, webhook: str, result: str) -> None:
        if self.metrics is not None:
            self.metrics.notifications.labels(webhook, result).inc()

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
