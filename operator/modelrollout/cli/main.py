"""`modelrollout`: run the operator, drive rollouts, start the local environment and the demo."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from modelrollout.api.controls import ControlVerb


def _console() -> Console:
    """Rich on a terminal; piped, as wide as the content, so names are never cut or wrapped."""
    terminal = Console()
    return terminal if terminal.is_terminal else Console(width=4096, soft_wrap=True)


console = _console()


def _one_line(error: Exception) -> str:
    """kubectl's way of saying what the API server refused, in one line."""
    from kubernetes.client.exceptions import ApiException

    if isinstance(error, ApiException):
        try:
            body = json.loads(error.body or "{}")
        except ValueError:
            body = {}
        message = body.get("message") or error.reason or "request failed"
        return f"Error from server ({body.get('reason') or error.reason}): {message}"
    return str(error)


class CommandGroup(click.Group):
    """Turns the errors users cause (missing objects, impossible controls, no kubeconfig) into one
    line on stderr and exit code 1, instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError
        from yaml import YAMLError

        from modelrollout.cli.controls import ControlError
        from modelrollout.cli.target import TargetError
        from modelrollout.cli.watch import RolloutGoneError

        try:
            return super().invoke(ctx)
        except (ApiException, ControlError, TargetError, RolloutGoneError, YAMLError) as error:
            raise click.ClickException(_one_line(error)) from error
        except HTTPError as error:
            raise click.ClickException(f"cannot reach the API server: {error}") from error


@click.group(cls=CommandGroup)
@click.version_option(package_name="modelrollout")
@click.option("-n", "--namespace", help="Namespace for the command; default: the kubeconfig context's namespace.")
@click.option("--context", help="Kubeconfig context.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Kubeconfig file; default $KUBECONFIG.")
@click.pass_context
def main(ctx: click.Context, namespace: str | None, context: str | None, kubeconfig: str | None) -> None:
    """Safe rollouts of ML/LLM model versions on Kubernetes.

    Also a kubectl plugin: `kubectl modelrollout -n NS status NAME` (kubectl takes no flags before a plugin's name).
    """
    from modelrollout.cli.target import Target

    ctx.obj = Target(kubeconfig=kubeconfig, context=context, namespace=namespace)


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
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    envvar="MODELROLLOUT_METRICS_PORT",
    help="Serve the operator's Prometheus metrics on this port at /metrics. [env MODELROLLOUT_METRICS_PORT]",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning"]),
    default="info",
    show_default=True,
    envvar="MODELROLLOUT_LOG_LEVEL",
)
@click.option(
    "--log-format",
    type=click.Choice(["plain", "full", "json"]),
    default="full",
    show_default=True,
    help="plain: the message only; full: with time, logger and level; json: for log collectors.",
)
@click.option("--verbose", is_flag=True, help="Same as --log-level debug.")
def run(
    namespaces: tuple[str, ...],
    kubeconfig: str | None,
    liveness: str | None,
    settings_path: Path | None,
    prometheus_url: str | None,
    operator_namespace: str | None,
    metrics_port: int | None,
    log_level: str,
    log_format: str,
    verbose: bool,
) -> None:
    """Run the operator (same as `kopf run -m modelrollout.handlers.operator --standalone`)."""
    import logging

    import kopf

    from modelrollout.handlers.settings import SettingsError, load_settings

    try:
        settings = load_settings(
            settings_path,
            prometheus_url=prometheus_url,
            namespace=operator_namespace,
            kubeconfig=kubeconfig,
            metrics_port=metrics_port,
        )
    except SettingsError as error:
        raise click.UsageError(str(error)) from error

    # kopf installs the one log handler (a second one, e.g. logging.basicConfig, prints every line twice).
    level = "debug" if verbose else log_level
    kopf.configure(
        debug=level == "debug",
        quiet=level == "warning",
        log_format={"plain": kopf.LogFormat.PLAIN, "full": kopf.LogFormat.FULL, "json": kopf.LogFormat.JSON}[
            log_format
        ],
    )
    if level != "debug":
        # kopf reports each handled watch event at INFO ("Handler ... succeeded"); the operator's
        # own lines, one per decision, are what an operator of the operator reads. Failures stay.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    import modelrollout.handlers.operator  # noqa: F401  (registers the handlers)

    # The kubeconfig travels in the settings: kopf's login handler and the operator's own client
    # both read it from there (an environment variable set now would come too late for the client library).
    kopf.run(
        standalone=True,
        clusterwide=not namespaces,
        namespaces=list(namespaces),
        liveness_endpoint=liveness,
        memo=kopf.Memo(settings=settings),
    )


# ---------------------------------------------------------------------------- controls


def _target_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """-n/--namespace, --context and --kubeconfig, as kubectl spells them."""
    command = click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Kubeconfig file.")(command)
    command = click.option("--context", help="Kubeconfig context.")(command)
    return click.option("-n", "--namespace", help="Namespace; default: the context's namespace.")(command)


def _target(namespace: str | None, context: str | None, kubeconfig: str | None) -> tuple[Any, str]:
    """The API client and namespace: this command's flags over the group's (`kubectl modelrollout -n X ...`)."""
    from modelrollout.cli.target import Target

    group: Target = click.get_current_context().find_object(Target) or Target()
    target = group.merged(Target(kubeconfig=kubeconfig, context=context, namespace=namespace))
    return target.api_client(), target.resolve_namespace()


def _control(verb: ControlVerb) -> Callable[..., None]:
    @click.argument("name")
    @_target_options
    def command(name: str, namespace: str | None, context: str | None, kubeconfig: str | None, **flags: bool) -> None:
        from modelrollout.cli.controls import request_control

        api_client, namespace = _target(namespace, context, kubeconfig)
        actual: ControlVerb = "promote-full" if flags.get("full") else verb
        value = request_control(api_client, namespace, name, actual)
        console.print(f"{namespace}/{name}: {actual} requested ({value})")

    return command


_HELP: dict[ControlVerb, str] = {
    "promote": "Go past the current pause/analysis step, approve a blue-green switch, or promote an A/B test's winner.",
    "abort": "Return all traffic to the stable version and reject the candidate.",
    "retry": "Try a rejected target again.",
    "pause": "Hold the rollout where it is.",
    "resume": "Continue a rollout paused with `pause` or held by `stop`.",
    "stop": "Emergency stop: all traffic to the stable version at once, skipping steps and delays; holds until resume.",
}
for _verb, _help in _HELP.items():
    _command = _control(_verb)
    if _verb == "promote":
        _command = click.option("--full", is_flag=True, help="Skip all remaining steps and analysis.")(_command)
    main.command(name=_verb, help=_help)(_command)


@main.command()
@click.argument("name")
@click.option("--to-version", required=True, help="ModelVersion name to go back to.")
@click.option("--force", is_flag=True, help="Go back to a version this Rollout rejected.")
@_target_options
def undo(
    name: str, to_version: str, force: bool, namespace: str | None, context: str | None, kubeconfig: str | None
) -> None:
    """Roll back to a named version by editing spec.targetVersion (as a Git commit would), after
    checking that it exists, belongs to the model and may serve."""
    from modelrollout.cli.undo import UndoRefused
    from modelrollout.cli.undo import undo as undo_rollout

    api_client, namespace = _target(namespace, context, kubeconfig)
    try:
        undo_rollout(api_client, namespace, name, to_version, force=force)
    except UndoRefused as refusal:
        raise click.ClickException(f"undo {namespace}/{name} refused: {refusal}") from refusal
    console.print(f"{namespace}/{name}: targetVersion set to {to_version}")


def _print_object(rollout: dict[str, Any], output: str) -> None:
    import json

    import yaml

    if output == "json":
        click.echo(json.dumps(rollout, indent=2, sort_keys=True))
    else:
        click.echo("---\n" + yaml.safe_dump(rollout, sort_keys=False), nl=False)


def _registry_commands() -> None:
    from modelrollout.cli.registry import COMMANDS

    for command in COMMANDS:
        main.add_command(command)


_registry_commands()


@main.command()
@click.argument("name")
@_target_options
@click.option("-w", "--watch", is_flag=True, help="Follow the rollout until it is Healthy, RolledBack or Degraded.")
@click.option(
    "--timeout",
    help="With --watch: give up after this long (e.g. 90s, 10m) and exit 2. Exit 0 Healthy, 1 RolledBack/Degraded.",
)
@click.option("-o", "--output", type=click.Choice(["json", "yaml"]), help="Print the Rollout object instead.")
def status(
    name: str,
    namespace: str | None,
    context: str | None,
    kubeconfig: str | None,
    watch: bool,
    timeout: str | None,
    output: str | None,
) -> None:
    """Show a Rollout's phase, conditions, measurements and history."""
    from modelrollout.api.common import parse_duration
    from modelrollout.cli.controls import get_rollout
    from modelrollout.cli.view import status_view, transition_line
    from modelrollout.cli.watch import follow

    seconds = None
    if timeout is not None:
        if not watch:
            raise click.UsageError("--timeout needs --watch")
        try:
            seconds = parse_duration(timeout) if not timeout.isdigit() else float(timeout)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--timeout") from error
    api_client, namespace = _target(namespace, context, kubeconfig)
    if not watch:
        rollout = get_rollout(api_client, namespace, name)
        if output:
            _print_object(rollout, output)
        else:
            console.print(status_view(rollout))
        return
    if output:
        code = follow(api_client, namespace, name, lambda rollout: _print_object(rollout, output), seconds)
    elif console.is_terminal:
        from rich.live import Live

        with Live(console=console, refresh_per_second=4, transient=False) as live:
            code = follow(api_client, namespace, name, lambda rollout: live.update(status_view(rollout)), seconds)
    else:
        last: list[str] = []

        def print_changes(rollout: dict[str, Any]) -> None:
            line = transition_line(rollout)
            if not last or line != last[-1]:
                last.append(line)
                click.echo(f"{namespace}/{name} {line}")

        code = follow(api_client, namespace, name, print_changes, seconds)
    if code == 2:
        click.echo(f"{namespace}/{name}: timed out after {timeout} waiting for Healthy", err=True)
    raise SystemExit(code)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def lint(files: tuple[Path, ...]) -> None:
    """Check ModelVersion and Rollout manifests offline: the CRD schema and the operator's validation."""
    from modelrollout.cli.lint import lint as lint_files

    findings = lint_files(files)
    for finding in findings:
        if finding.ok:
            click.echo(f"{finding.where}: ok" + (f" ({finding.note})" if finding.note else ""))
        for problem in finding.problems:
            click.echo(f"{finding.where}: {problem}")
    problems = sum(len(f.problems) for f in findings)
    if problems:
        click.echo(f"{problems} problem(s)", err=True)
        raise SystemExit(1)


# ---------------------------------------------------------------------------- local environment

CHECKOUT_ONLY = (
    "`modelrollout {command}` needs the local environment (modelrollout.devenv, modelrollout.sim), which only "
    "a checkout's dev install has: clone the repository and run `make {target}` there"
)


@contextmanager
def _dev_only(command: str) -> Iterator[None]:
    """Around the import of a dev-only module: a one-line error on an installed operator."""
    try:
        yield
    except ModuleNotFoundError as error:
        if error.name and error.name.startswith(("modelrollout.devenv", "modelrollout.sim")):
            raise click.ClickException(
                CHECKOUT_ONLY.format(command=command, target=command.replace(" ", "-"))
            ) from error
        raise


@main.group()
def dev() -> None:
    """A local control plane and Prometheus for trying things out."""


@dev.command("up")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
def dev_up(state_dir: Path | None) -> None:
    """Start etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok and Prometheus."""
    with _dev_only("dev up"):
        from modelrollout.devenv import dev as devenv

    environment = devenv.up(state_dir or devenv.DEFAULT_STATE_DIR)
    console.print(f"export KUBECONFIG={environment.kubeconfig}")
    console.print(f"# Prometheus: {environment.prometheus_url}")


@dev.command("down")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
def dev_down(state_dir: Path | None) -> None:
    """Stop everything `dev up` started."""
    with _dev_only("dev down"):
        from modelrollout.devenv import dev as devenv

    stopped = devenv.down(state_dir or devenv.DEFAULT_STATE_DIR)
    console.print("stopped" if stopped else "nothing was running")


@main.command()
@click.option("--keep", is_flag=True, help="Leave the environment running after the demo.")
def demo(keep: bool) -> None:
    """Bring up a local cluster, Prometheus, simulated model servers and the operator; run a canary."""
    with _dev_only("demo"):
        from modelrollout.cli.demo import run_demo
    raise SystemExit(run_demo(console, keep=keep))


if __name__ == "__main__":
    main()
