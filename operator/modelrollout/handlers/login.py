"""kopf's credentials, from the same kubeconfig the operator's own API client uses.

kopf logs in by itself through the kubernetes client's defaults, which read $KUBECONFIG when the
client library is imported. `modelrollout run --kubeconfig FILE` must make the watches (kopf) and
the writes (our KubernetesGateway) talk to the same cluster, so both are built from one file.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf
from kubernetes import client

from modelrollout.adapters.kube import load_configuration
from modelrollout.api.settings import OperatorSettings


def connection_info(configuration: client.Configuration, trust_env: bool) -> kopf.ConnectionInfo:
    """kopf's ConnectionInfo for a kubernetes client Configuration (as kopf.login_via_client maps it)."""
    header = configuration.get_api_key_with_prefix("BearerToken") or configuration.get_api_key_with_prefix(
        "authorization"
    )
    parts = header.split(" ", 1) if header else []
    scheme, token = (None, None) if not parts else (None, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    return kopf.ConnectionInfo(
        server=configuration.host,
        ca_path=configuration.ssl_ca_cert,
        insecure=not configuration.verify_ssl,
        username=configuration.username or None,
        password=configuration.password or None,
        scheme=scheme,
        token=token,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
        trust_env=trust_env,
    )


def login(
    operator_settings: OperatorSettings, kopf_settings: kopf.OperatorSettings, logger: logging.Logger | Any
) -> kopf.ConnectionInfo | None:
    """With a kubeconfig in the settings, exactly that file; otherwise kopf's own in-cluster/kubeconfig login."""
    if operator_settings.kubeconfig is None:
        return kopf.login_via_client(logger=logger, settings=kopf_settings)
    configuration = load_configuration(operator_settings.kubeconfig)
    return connection_info(configuration, trust_env=kopf_settings.networking.trust_env)
