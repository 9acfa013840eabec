"""The operator's own settings: one object built at startup, written only by whoever installs the operator.

Everything here is trusted configuration, unlike a Rollout's spec, which anyone with edit rights
in a namespace may write. That is why Prometheus addresses and credentials, and the policy for pod
templates, live here and not in Rollouts. The Helm chart renders this object from its values into
a ConfigMap mounted at `--settings`; `modelrollout run --help` lists the flags that override it.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from modelrollout.api.common import DnsLabel, Duration, ObjectName, SpecModel
from modelrollout.api.notifications import Webhook

DEFAULT_CONNECTION = "default"


class SecretKey(SpecModel):
    """A key of a Secret in the operator's own namespace."""

    name: ObjectName = Field(description="Secret name (in the namespace the operator runs in).")
    key: str = Field(min_length=1, max_length=253, description="Key within the Secret.")


class PrometheusConnection(SpecModel):
    """A Prometheus server Rollouts may read, by name."""

    name: DnsLabel = Field(description="What Rollouts write in spec.analysis.prometheus.connection.")
    address: str = Field(
        pattern=r"^https?://[^\s]+$",
        max_length=2048,
        description="Base URL, e.g. http://prometheus-operated.monitoring:9090.",
    )
    timeout: Duration = Field(default="5s", description="Per-query timeout unless a Rollout sets its own.")
    bearer_token_secret: SecretKey | None = Field(
        default=None, description="Bearer token sent with every query, from a Secret in the operator's namespace."
    )
    insecure_skip_verify: bool = Field(default=False, description="Skip TLS verification (testing only).")
    namespaces: list[DnsLabel] = Field(
        default_factory=list, description="Namespaces whose Rollouts may use this connection; empty allows all."
    )

    def allows(self, namespace: str) -> bool:
        return not self.namespaces or namespace in self.namespaces


class PodPolicy(SpecModel):
    """What a ModelVersion's pod template may ask for. Creating a ModelVersion amounts to creating
    pods (the operator copies its template into a Deployment), so this is checked before any
    Deployment exists; the namespace's Pod Security admission still applies to the pods."""

    enforce: bool = Field(default=True, description="Check ModelVersion pod templates against this policy.")
    allowed_service_accounts: list[DnsLabel] = Field(
        default_factory=list,
        description="ServiceAccounts pods may run as (`default` when the template names none); empty allows any.",
    )
    allow_privileged: bool = Field(default=False, description="Allow privileged containers and privilege escalation.")
    allow_host_namespaces: bool = Field(
        default=False, description="Allow hostNetwork, hostPID, hostIPC and container hostPorts."
    )
    allow_host_path: bool = Field(default=False, description="Allow hostPath volumes.")


class AnalyticsSettings(SpecModel):
    """Version analytics: how often ModelVersion status.performance is refreshed, over what window.

    A refresh costs one Prometheus query per model (all figures of all its serving versions at once).
    """

    enabled: bool = Field(default=True, description="Refresh ModelVersion status.performance from Prometheus.")
    interval: Duration = Field(default="60s", description="Time between refreshes of one namespace's models.")
    window: Duration = Field(default="1h", description="Window the figures cover.")


class GlobalWebhook(Webhook):
    """A webhook Rollouts (of `namespaces`) notify; its Secrets are read in the operator's namespace."""

    namespaces: list[DnsLabel] = Field(
        default_factory=list, description="Namespaces whose Rollouts may notify this webhook; empty means all."
    )
    subscribers_only: bool = Field(
        default=False,
        description="Notify only for Rollouts that subscribe in spec.notifications (else for every Rollout allowed).",
    )

    def allows(self, namespace: str) -> bool:
        return not self.namespaces or namespace in self.namespaces


class LeaderElection(SpecModel):
    """One active operator among replicas: the holder of a coordination.k8s.io Lease acts, the others wait.

    A standby takes over about `leaseSeconds` after the leader stops renewing (killed, partitioned).
    """

    enabled: bool = Field(default=False, description="Elect a leader; required when more than one replica runs.")
    lease_name: DnsLabel = Field(default="modelrollout-operator", description="The Lease, in the operator's namespace.")
    lease_seconds: int = Field(default=10, ge=3, le=300, description="How long a lease lasts without renewal.")
    renew_seconds: int = Field(
        default=7, ge=2, le=299, description="The leader gives up when it could not renew for this long."
    )
    retry_seconds: int = Field(default=2, ge=1, le=60, description="Time between attempts to acquire or renew.")

    @model_validator(mode="after")
    def _ordered(self) -> LeaderElection:
        # The leader must give up before a standby may take over, with a retry to spare.
        if not self.lease_seconds > self.renew_seconds > self.retry_seconds * 1.2:
            raise ValueError("leaderElection: need leaseSeconds > renewSeconds > 1.2 x retrySeconds")
        return self


class OperatorSettings(SpecModel):
    """Settings of one operator installation."""

    namespace: DnsLabel | None = Field(
        default=None,
        description="The namespace the operator runs in: the only place it reads Secrets (from POD_NAMESPACE).",
    )
    prometheus_connections: list[PrometheusConnection] = Field(
        default_factory=list, description="Prometheus servers Rollouts may read, by name."
    )
    default_prometheus_connection: DnsLabel = Field(
        default=DEFAULT_CONNECTION, description="The connection of Rollouts that name none."
    )
    pod_policy: PodPolicy = Field(default_factory=PodPolicy, description="Policy for ModelVersion pod templates.")
    analytics: AnalyticsSettings = Field(
        default_factory=AnalyticsSettings, description="Version analytics (ModelVersion status.performance)."
    )
    notifications: list[GlobalWebhook] = Field(
        default_factory=list, description="Webhooks notified about every Rollout's promotions, rollbacks and pauses."
    )
    kubeconfig: str | None = Field(
        default=None,
        description="Kubeconfig file for every API call, watches and writes alike (from --kubeconfig); "
        "unset: the in-cluster ServiceAccount, else $KUBECONFIG or ~/.kube/config.",
    )
    metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="Port of the operator's /metrics endpoint (from --metrics-port)."
    )
    leader_election: LeaderElection = Field(
        default_factory=LeaderElection, description="Leader election among operator replicas."
    )

    @model_validator(mode="after")
    def _unique_connections(self) -> OperatorSettings:
        names = [connection.name for connection in self.prometheus_connections]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"prometheusConnections: duplicate names {', '.join(duplicates)}")
        webhooks = [webhook.name for webhook in self.notifications]
        duplicates = sorted({name for name in webhooks if webhooks.count(name) > 1})
        if duplicates:
            raise ValueError(f"notifications: duplicate names {', '.join(duplicates)}")
        return self

    def webhook(self, name: str) -> GlobalWebhook | None:
        return next((w for w in self.notifications if w.name == name), None)

    def connection(self, name: str | None) -> PrometheusConnection | None:
        wanted = name or self.default_prometheus_connection
        return next((c for c in self.prometheus_connections if c.name == wanted), None)
