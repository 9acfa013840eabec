"""Notification webhooks: where the operator posts what a rollout decided.

One model serves both places a webhook is configured: the operator's settings (every Rollout the
sink's namespaces allow; secrets from the operator's namespace) and a Rollout's own
`spec.notifications` (that Rollout only; secrets from the Rollout's namespace, never another).
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from modelrollout.api.cel import list_map, list_set, one_of, validations
from modelrollout.api.common import DnsLabel, ObjectName, SpecModel

NotificationTrigger = Literal["Promoted", "RolledBack", "PausedNoData", "AnalysisWarning"]
TRIGGERS: tuple[NotificationTrigger, ...] = ("Promoted", "RolledBack", "PausedNoData", "AnalysisWarning")


class SecretKeyRef(SpecModel):
    """A key of a Secret. Which namespace depends on where the reference is written (see above)."""

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


class RolloutNotifications(SpecModel):
    """Webhooks of one Rollout, in addition to those the operator's settings define."""

    webhooks: list[Webhook] = Field(
        default_factory=list, max_length=8, description="Webhooks.", json_schema_extra=list_map("name")
    )
