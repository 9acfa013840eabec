"""Notification webhooks: where the operator posts what a rollout decided.

Webhooks (their URLs and credentials) are defined by the operator's installer, in its settings, with
Secrets from the operator's own namespace. A Rollout only subscribes to one by name in
`spec.notifications`: whoever may edit a Rollout must not be able to make the operator read a Secret
and send it, or any request, to an address of their choosing.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from modelrollout.api.cel import list_map, list_set, one_of, validations
from modelrollout.api.common import DnsLabel, ObjectName, SpecModel

NotificationTrigger = Literal["Promoted", "RolledBack", "PausedNoData", "AnalysisWarning"]
TRIGGERS: tuple[NotificationTrigger, ...] = ("Promoted", "RolledBack", "PausedNoData", "AnalysisWarning")


class SecretKeyRef(SpecModel):
    """A key of a Secret in the operator's own namespace."""

    name: ObjectName = Field(description="Secret name.")
    key: str = Field(min_length=1, max_length=253, description="Key within the Secret.")


class Webhook(SpecModel):
    """An HTTP endpoint that receives a JSON POST per notification; the body's `text` field makes
    it a Slack (or Mattermost, Teams workflow) incoming webhook as it is."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            one_of(("url", "urlSecretRef"), "exactly one", "set exactly one of url or urlSecretRef")
        )
    )

    name: DnsLabel = Field(description="Names the webhook in logs and metrics.")
    url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s]+$",
        max_length=2048,
        description="Where to POST. Use urlSecretRef when the URL itself is a credential (Slack).",
    )
    url_secret_ref: SecretKeyRef | None = Field(default=None, description="The URL, from a Secret.")
    authorization_secret_ref: SecretKeyRef | None = Field(
        default=None, description="Value of the Authorization header (e.g. `Bearer ...`), from a Secret."
    )
    triggers: list[NotificationTrigger] = Field(
        default_factory=lambda: list(TRIGGERS),
        min_length=1,
        max_length=len(TRIGGERS),
        description="What to notify: Promoted, RolledBack (also aborts), PausedNoData, AnalysisWarning.",
        json_schema_extra=list_set(),
    )

    @model_validator(mode="after")
    def _one_url(self) -> Webhook:
        # The CRD's CEL rule says the same for Rollouts; this covers the settings file.
        if (self.url is None) == (self.url_secret_ref is None):
            raise ValueError(f"webhook {self.name}: set exactly one of url or urlSecretRef")
        return self


class WebhookSubscription(SpecModel):
    """This Rollout's subscription to one of the webhooks the operator's installer defined."""

    webhook: DnsLabel = Field(description="Name of a webhook in the operator's settings (notifications[].name).")
    triggers: list[NotificationTrigger] | None = Field(
        default=None,
        min_length=1,
        max_length=len(TRIGGERS),
        description="What to notify for this Rollout; empty: the webhook's own triggers.",
        json_schema_extra=list_set(),
    )


class RolloutNotifications(SpecModel):
    """Webhooks this Rollout notifies, besides those the operator's settings send every Rollout."""

    webhooks: list[WebhookSubscription] = Field(
        default_factory=list,
        max_length=8,
        description="Subscriptions, by webhook name.",
        json_schema_extra=list_map("webhook"),
    )
