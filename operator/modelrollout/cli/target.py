"""Which cluster and namespace a command talks to, the way kubectl decides it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client, config

from modelrollout.adapters.kube import load_api_client

SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


class TargetError(RuntimeError):
    """No usable kubeconfig or context; the message says what to fix."""


@dataclass(frozen=True)
class Target:
    """`--kubeconfig`, `--context` and `-n` as given (None: not given)."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None

    def merged(self, other: Target) -> Target:
        """`other`'s values where set (a subcommand's flags win over the group's)."""
        return Target(
            kubeconfig=other.kubeconfig or self.kubeconfig,
            context=other.context or self.context,
            namespace=other.namespace or self.namespace,
        )

    def kubeconfig_files(self) -> str | None:
        return self.kubeconfig or os.environ.get("KUBECONFIG") or None

    def resolve_namespace(self) -> str:
        """-n, else the context's namespace in the kubeconfig, else the pod's own, else `default`."""
        if self.namespace:
            return self.namespace
        files = self.kubeconfig_files() or str(Path("~/.kube/config").expanduser())
        try:
            contexts, active = config.list_kube_config_contexts(config_file=files)  # type: ignore[no-untyped-call]
        except (config.ConfigException, OSError):
            contexts, active = [], None
        chosen = active
        if self.context:
            chosen = next((c for c in contexts if c.get("name") == self.context), None)
            if chosen is None:
                raise TargetError(f'context "{self.context}" not found in kubeconfig {files}')
        if chosen is not None:
            namespace = (chosen.get("context") or {}).get("namespace")
            if namespace:
                return str(namespace)
            return "default"
        if SERVICE_ACCOUNT_NAMESPACE.is_file():
            return SERVICE_ACCOUNT_NAMESPACE.read_text().strip()
        return "default"

    def api_client(self) -> client.ApiClient:
        try:
            return load_api_client(self.kubeconfig_files(), context=self.context)
        except (config.ConfigException, OSError) as error:
            raise TargetError(f"no usable kubeconfig ({error}); set --kubeconfig or $KUBECONFIG") from error
