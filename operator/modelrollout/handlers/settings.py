"""Builds the operator's settings at startup: the settings file, then flags and environment on top."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from modelrollout.api.settings import OperatorSettings, PrometheusConnection


class SettingsError(ValueError):
    """The settings file cannot be used; the message says what to fix."""


def load_settings(
    path: Path | None = None,
    *,
    prometheus_url: str | None = None,
    namespace: str | None = None,
    kubeconfig: str | None = None,
    metrics_port: int | None = None,
) -> OperatorSettings:
    """Settings from `path` (YAML, the OperatorSettings fields in camelCase), if given.

    `prometheus_url` defines the default connection when the file does not (a shorthand for a
    Prometheus without credentials); `namespace` is where the operator runs and reads Secrets.
    `kubeconfig` and `metrics_port` come from flags and win over the file.
    """
    raw: object = {}
    if path is not None:
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            raise SettingsError(f"cannot read settings file {path}: {error}") from error
    try:
        settings = OperatorSettings.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in error.errors())
        raise SettingsError(f"settings file {path}: {problems}") from error
    if prometheus_url and settings.connection(None) is None:
        try:
            default = PrometheusConnection(name=settings.default_prometheus_connection, address=prometheus_url)
        except ValidationError as error:
            raise SettingsError(f"Prometheus URL {prometheus_url!r}: {error.errors()[0]['msg']}") from error
        settings = settings.model_copy(update={"prometheus_connections": [*settings.prometheus_connections, default]})
    if namespace and settings.namespace is None:
        settings = settings.model_copy(update={"namespace": namespace})
    if kubeconfig:
        # Absolute, so a later chdir (or a relative path in the file) cannot point elsewhere.
        settings = settings.model_copy(update={"kubeconfig": str(Path(kubeconfig).resolve())})
    if metrics_port is not None:
        settings = settings.model_copy(update={"metrics_port": metrics_port})
    return settings
