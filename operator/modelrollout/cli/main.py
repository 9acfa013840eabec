"""`modelrollout`: run the operator, drive rollouts, start the local environment and the demo."""

from __future__ import annotations

import os
import time
from pathlib import Path

import click
from rich.console import Console

from modelrollout.api.controls import ControlVerb

console = Console()


@click.group()
@click.version_option(package_name="modelrollout")
def main() -> None:
    """Safe rollouts of ML/LLM model versions on Kubernetes."""


# ---------------------------------------------------------------------------- operator


@main.command()
@click.option("-n", "--namespace", "namespaces", multiple=True, help="Watch only these namespaces (repeatable).")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Kubeconfig; default $KUBECONFIG or in-cluster.")
@click.option("--liveness", default=None, help="Serve a liveness endpoint, e.g. http://0.0.0.0:8080/healthz.")
@click.option(
    "--settings",
    "settings_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    envvar="MODELROLLOUT_SETTINGS",
    help="Settings file (YAML): Prometheus connections, pod policy. [env MODELROLLOUT_SETTINGS]",
)
@click.option(
    "--prometheus-url",
    envvar="MODELROLLOUT_PROMETHEUS_URL",
    help="Address of the default Prometheus connection, when the settings file defines none. "
    "[env MODELROLLOUT_PROMETHEUS_URL]",
)
@click.option(
    "--operator-namespace",
    envvar="POD_NAMESPACE",
    help="The namespace the operator runs in; the only one it reads Secrets from. [env POD_NAMESPACE]",
)
@click.option("--verbose", is_flag=True, help="Debug logging.")
def run(
    namespaces: tuple[str, ...],
    kubeconfig: str | None,
    liveness: str | None,
    settings_path: Path | None,
    prometheus_url: str | None,
    operator_namespace: str | None,
    verbose: bool,
) -> None:
    """Run the operator (same as `kopf run -m modelrollout.handlers.operator --standalone`)."""
    import logging

    import kopf

    from modelrollout.handlers.settings import SettingsError, load_settings

    try:
        settings = load_settings(settings_path, prometheus_url=prometheus_url, namespace=operator_namespace)
    except SettingsError as error:
        raise click.UsageError(str(error)) from error

    if kubeconfig:
        os.environ["KUBECONFIG"] = str(Path(kubeconfig).resolve())
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    import modelrollout.handlers.operator  # noqa: F401  (registers the handlers)

    kopf.configure(verbose=verbose)
    kopf.run(
        standalone=True,
        clusterwide=not namespaces,
        namespaces=list(namespaces),
        liveness_endpoint=liveness,
        memo=kopf.Memo(settings=settings),
    )


# ---------------------------------------------------------------------------- controls


def _api_client(kubeconfig: str | None):  # type: ignore[no-untyped-def]
    from modelrollout.adapters.kube import load_api_client

    return load_api_client(kubeconfig or os.environ.get("KUBECONFIG") or None)


def _control(verb: ControlVerb):  # type: ignore[no-untyped-def]
    @click.argument("name")
    @click.option("-n", "--namespace", default="default", show_default=True)
    @click.option("--kubeconfig", type=click.Path(dir_okay=False))
    def command(name: str, namespace: str, kubeconfig: str | None, **flags: bool) -> None:
        from modelrollout.cli.controls import request_control

        actual: ControlVerb = "promote-full" if flags.get("full") else verb
        value = request_control(_api_client(kubeconfig), namespace, name, actual)
        console.print(f"{namespace}/{name}: {actual} requested ({value})")

    return command


_HELP: dict[ControlVerb, str] = {
    "promote": "Go past the current pause/analysis step, approve a blue-green switch, or promote an A/B test's winner.",
    "abort": "Return all traffic to the stable version and reject the candidate.",
    "retry": "Try a rejected target again.",
    "pause": "Hold the rollout where it is.",
    "resume": "Continue a rollout paused with `pause`.",
}
for _verb, _help in _HELP.items():
    _command = _control(_verb)
    if _verb == "promote":
        _command = click.option("--full", is_flag=True, help="Skip all remaining steps and analysis.")(_command)
    main.command(name=_verb, help=_help)(_command)


@main.command()
@click.argument("name")
@click.option("--to-version", required=True, help="ModelVersion name to go back to.")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("--kubeconfig", type=click.Path(dir_okay=False))
def undo(name: str, to_version: str, namespace: str, kubeconfig: str | None) -> None:
    """Roll back to an earlier version by editing spec.targetVersion (as a Git commit would)."""
    from modelrollout.cli.controls import undo as undo_rollout

    undo_rollout(_api_client(kubeconfig), namespace, name, to_version)
    console.print(f"{namespace}/{name}: targetVersion set to {to_version}")


@main.command()
@click.argument("name")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("--kubeconfig", type=click.Path(dir_okay=False))
@click.option("-w", "--watch", is_flag=True, help="Keep printing transitions until interrupted.")
def status(name: str, namespace: str, kubeconfig: str | None, watch: bool) -> None:
    """Show a Rollout's phase, conditions, measurements and history."""
    from rich.live import Live

    from modelrollout.cli.controls import get_rollout
    from modelrollout.cli.view import status_view

    api_client = _api_client(kubeconfig)
    if not watch:
        console.print(status_view(get_rollout(api_client, namespace, name)))
        return
    with Live(status_view(get_rollout(api_client, namespace, name)), console=console, refresh_per_second=2) as live:
        while True:
            time.sleep(1)
            live.update(status_view(get_rollout(api_client, namespace, name)))


# ---------------------------------------------------------------------------- local environment


@main.group()
def dev() -> None:
    """A local control plane and Prometheus for trying things out."""


@dev.command("up")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
def dev_up(state_dir: Path | None) -> None:
    """Start etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok and Prometheus."""
    from modelrollout.devenv import dev as devenv

    environment = devenv.up(state_dir or devenv.DEFAULT_STATE_DIR)
    console.print(f"export KUBECONFIG={environment.kubeconfig}")
    console.print(f"# Prometheus: {environment.prometheus_url}")


@dev.command("down")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
def dev_down(state_dir: Path | None) -> None:
    """Stop everything `dev up` started."""
    from modelrollout.devenv import dev as devenv

    stopped = devenv.down(state_dir or devenv.DEFAULT_STATE_DIR)
    console.print("stopped" if stopped else "nothing was running")


@main.command()
@click.option("--keep", is_flag=True, help="Leave the environment running after the demo.")
def demo(keep: bool) -> None:
    """Bring up a local cluster, Prometheus, simulated model servers and the operator; run a canary."""
    from modelrollout.cli.demo import run_demo

    raise SystemExit(run_demo(console, keep=keep))


if __name__ == "__main__":
    main()
