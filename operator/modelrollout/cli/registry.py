"""The model registry from the command line: `versions MODEL` side by side, `unarchive VERSION`."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime

import click
from kubernetes import client
from rich.console import Console
from rich.table import Table
from rich.text import Text

from modelrollout.adapters.kube import KubernetesGateway, load_api_client
from modelrollout.api.modelversion import ModelVersion, Performance
from modelrollout.core.lifecycle import with_stage
from modelrollout.core.lineage import PARENT_RESOLVED, chain
from modelrollout.handlers.reconciler import read_model_versions

_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:-([^+]*))?")
_STAGE_STYLE = {
    "production": "green",
    "candidate": "cyan",
    "rejected": "red",
    "archived": "dim",
    "deprecated": "yellow",
}


def semver_key(version: str) -> tuple[int, int, int, int, str]:
    """Semantic-version order: 2.4.0-rc.1 < 2.4.0 < 2.10.0 (pre-releases compared as text)."""
    match = _SEMVER.match(version)
    if match is None:
        return (0, 0, 0, 0, version)
    major, minor, patch, pre = match.groups()
    return (int(major), int(minor), int(patch), 0 if pre else 1, pre or "")


def _figure(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _figures(performance: Performance | None) -> list[str]:
    p = performance or Performance()
    return [
        _figure(p.requests, ".0f"),
        _figure(p.error_rate, ".2%"),
        _figure(p.latency_p50_ms, ".0f"),
        _figure(p.latency_p95_ms, ".0f"),
        _figure(p.quality_score, ".3f"),
        _figure(p.cost_per_request, ".5f"),
        _figure(p.tokens_per_request, ".0f"),
        p.window or "-",
        p.observed_at or "-",
    ]


def versions_table(model: str, versions: Mapping[str, ModelVersion]) -> Table:
    """One row per version of `model`, oldest first: stage, lineage and the figures it showed."""
    table = Table(
        "ModelVersion",
        "Lineage",
        "Stage",
        "Rollout",
        "Requests",
        "Errors",
        "p50 ms",
        "p95 ms",
        "Quality",
        "$/request",
        "Tokens/req",
        "Window",
        "Observed",
        title=f"Versions of {model}",
    )
    mine = {name: version for name, version in versions.items() if version.spec.model == model}
    for name in sorted(mine, key=lambda n: semver_key(mine[n].spec.version)):
        version = mine[name]
        status = version.status
        stage = (status.stage if status else None) or version.spec.stage
        lineage = Text(" -> ".join(chain(name, mine)))
        parent = next((c for c in status.conditions if c.type == PARENT_RESOLVED), None) if status else None
        if parent is not None and parent.status == "False":
            lineage.stylize("yellow")
        table.add_row(
            name,
            lineage,
            Text(stage, style=_STAGE_STYLE.get(stage, "")),
            (status.rollout if status else None) or "-",
            *_figures(status.performance if status else None),
        )
    return table


def _api_client(kubeconfig: str | None) -> client.ApiClient:
    return load_api_client(kubeconfig or os.environ.get("KUBECONFIG") or None)


@click.command()
@click.argument("model")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("--kubeconfig", type=click.Path(dir_okay=False))
def versions(model: str, namespace: str, kubeconfig: str | None) -> None:
    """Compare the versions of MODEL side by side: stage, lineage and live figures."""
    found = read_model_versions(KubernetesGateway(_api_client(kubeconfig)), namespace)
    if not any(version.spec.model == model for version in found.values()):
        raise click.ClickException(f"no ModelVersion of model {model!r} in namespace {namespace!r}")
    Console(width=200).print(versions_table(model, found))


@click.command()
@click.argument("name")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("--kubeconfig", type=click.Path(dir_okay=False))
def unarchive(name: str, namespace: str, kubeconfig: str | None) -> None:
    """Put an archived ModelVersion back in staging, so that a Rollout may target it again."""
    kube = KubernetesGateway(_api_client(kubeconfig))
    version = read_model_versions(kube, namespace).get(name)
    if version is None:
        raise click.ClickException(f"ModelVersion {name!r} not found in namespace {namespace!r}")
    stage = version.status.stage if version.status else None
    if stage != "archived":
        raise click.ClickException(f"ModelVersion {name!r} is not archived (stage {stage or 'none'})")
    status = with_stage(version.status, "staging", "un-archived by user", None, datetime.now(UTC))
    assert status is not None  # the stage changes
    kube.patch_model_version_status(namespace, name, status.model_dump(by_alias=True, exclude_none=True, mode="json"))
    click.echo(f"{namespace}/{name}: un-archived (stage staging)")


COMMANDS = (versions, unarchive)
