"""The CLI as users run it: a separate process against the real control plane and the real operator,
its output piped (as in CI), and as a kubectl plugin found on PATH."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from rollouts import Cluster, canary_rollout, model_version

from modelrollout.devenv import LocalCluster
from modelrollout.devenv.operator import OperatorProcess

# With its namespace, longer than the 80 columns a piped rich console would wrap or cut at.
NAME = "support-agent-named-longer-than-columns-allow"
BIN = Path(sys.executable).parent


def kubeconfig_with_namespace(cluster: LocalCluster, namespace: str, path: Path) -> Path:
    """The cluster's kubeconfig with `namespace` as its current context's namespace (kubens does this)."""
    config = yaml.safe_load(cluster.kubeconfig_path.read_text())
    current = config["current-context"]
    for context in config["contexts"]:
        if context["name"] == current:
            context["context"]["namespace"] = namespace
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def cli_env(crds: LocalCluster, namespace: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["KUBECONFIG"] = str(kubeconfig_with_namespace(crds, namespace, tmp_path / "kubeconfig"))
    env["HOME"] = str(tmp_path)
    return env


def cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`modelrollout ARGS` with stdout and stderr piped."""
    return subprocess.run(
        [str(BIN / "modelrollout"), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_namespace_from_kubeconfig_errors_and_plain_output(
    kube: Cluster, operator: OperatorProcess, cli_env: dict[str, str], namespace: str
) -> None:
    kube.create(model_version("sa-2-3-1", "2.3.1"))
    kube.create(canary_rollout(NAME, "sa-2-3-1", [{"setWeight": 50}, {"pause": {}}], replicas=2))
    kube.wait_status(NAME, "healthy", lambda s: s.get("phase") == "Healthy")

    # No -n: the kubeconfig context's namespace, as kubectl does. Piped: whole names, no wrapping.
    shown = cli(cli_env, "status", NAME)
    assert shown.returncode == 0, shown.stderr
    assert f"{namespace}/{NAME}" in shown.stdout.splitlines()[0]
    assert "…" not in shown.stdout

    as_json = json.loads(cli(cli_env, "status", NAME, "-o", "json").stdout)
    assert as_json["status"]["stableVersion"] == "sa-2-3-1"
    as_yaml = yaml.safe_load(cli(cli_env, "status", NAME, "-o", "yaml").stdout)
    assert as_yaml["metadata"]["namespace"] == namespace

    missing = one_line_error(cli(cli_env, "status", "nope"))
    assert missing == 'Error: Error from server (NotFound): rollouts.modelrollout.io "nope" not found'
    assert "not found" in one_line_error(cli(cli_env, "-n", "no-such-namespace", "status", NAME))
    impossible = one_line_error(cli(cli_env, "promote", NAME))
    assert "no rollout in progress (phase Healthy" in impossible
    assert "no rejected target" in one_line_error(cli(cli_env, "retry", NAME))
    assert "not found" in one_line_error(cli(cli_env, "undo", NAME, "--to-version", "sa-9-9-9"))
    # A group-level -n (how `kubectl modelrollout -n NS ...` passes it) and a command-level one both work.
    assert cli(cli_env, "-n", namespace, "status", NAME).returncode == 0
    assert cli(cli_env, "status", NAME, "-n", namespace).returncode == 0


def test_status_watch_exit_codes_for_ci(
    kube: Cluster, operator: OperatorProcess, cli_env: dict[str, str], namespace: str
) -> None:
    kube.create(model_version("sa-2-3-1", "2.3.1"))
    kube.create(model_version("sa-2-4-0", "2.4.0"))
    kube.create(model_version("sa-2-5-0", "2.5.0"))
    kube.create(canary_rollout("sa", "sa-2-3-1", [{"setWeight": 50}, {"pause": {"duration": "2s"}}], replicas=2))

    # Healthy: exit 0, one plain line per change while piped.
    kube.set_target("sa", "sa-2-3-1")
    healthy = cli(cli_env, "status", "sa", "--watch", "--timeout", "2m")
    assert healthy.returncode == 0, healthy.stderr
    kube.set_target("sa", "sa-2-4-0")
    promoted = cli(cli_env, "status", "sa", "--watch", "--timeout", "2m")
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    lines = promoted.stdout.splitlines()
    assert lines[-1].startswith(f"{namespace}/sa phase=Healthy stable=sa-2-4-0"), lines
    assert len(lines) == len(set(lines)) and len(lines) >= 2, lines

    # Held at an indefinite pause: the timeout ends the watch with exit 2.
    kube.patch_rollout("sa", {"spec": {"strategy": {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}}})
    kube.set_target("sa", "sa-2-5-0")
    kube.wait_status("sa", "paused", lambda s: s.get("phase") == "Paused" and s.get("candidateVersion") == "sa-2-5-0")
    timed_out = cli(cli_env, "status", "sa", "--watch", "--timeout", "3s")
    assert timed_out.returncode == 2, timed_out
    assert "timed out" in timed_out.stderr

    # Watching while someone aborts: exit 1 as soon as the watch sees RolledBack.
    watcher = subprocess.Popen(
        [str(BIN / "modelrollout"), "status", "sa", "--watch", "--timeout", "2m"],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert cli(cli_env, "abort", "sa").returncode == 0
        stdout, _ = watcher.communicate(timeout=120)
    finally:
        watcher.kill()
    assert watcher.returncode == 1, stdout
    assert "phase=RolledBack" in stdout.splitlines()[-1]


def test_kubectl_plugin_after_the_documented_install(
    crds: LocalCluster,
    kube: Cluster,
    operator: OperatorProcess,
    cli_env: dict[str, str],
    namespace: str,
    tmp_path: Path,
) -> None:
    # README: link the console script into a directory on PATH.
    plugins = tmp_path / "bin"
    plugins.mkdir()
    (plugins / "kubectl-modelrollout").symlink_to(BIN / "kubectl-modelrollout")
    kubectl = crds.binaries["kubectl"]
    env = {**cli_env, "PATH": f"{plugins}{os.pathsep}/usr/bin{os.pathsep}/bin"}
    kube.create(model_version("sa-2-3-1", "2.3.1"))
    kube.create(canary_rollout("sa", "sa-2-3-1", [{"setWeight": 50}, {"pause": {}}], replicas=2))
    kube.wait_status("sa", "healthy", lambda s: s.get("phase") == "Healthy")

    listed = subprocess.run([str(kubectl), "plugin", "list"], env=env, capture_output=True, text=True, check=False)
    assert "kubectl-modelrollout" in listed.stdout, listed
    for args in (["-n", "default", "status", "sa", "-n", namespace], ["status", "sa"]):
        result = subprocess.run(
            [str(kubectl), "modelrollout", *args, "-o", "json"], env=env, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["metadata"]["namespace"] == namespace
