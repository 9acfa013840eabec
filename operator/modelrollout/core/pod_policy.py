"""The installer's policy for ModelVersion pod templates (pure).

Creating a ModelVersion amounts to creating pods: its template becomes a Deployment's. The policy
is checked for every version a Rollout would deploy, before any Deployment exists, and a violation
is an InvalidSpec that names the field to change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelrollout.api.modelversion import ModelVersion
from modelrollout.api.rollout import RolloutSpec
from modelrollout.api.settings import PodPolicy

_HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def versions_to_deploy(spec: RolloutSpec) -> list[str]:
    """ModelVersion names this Rollout's spec asks to run."""
    names = [spec.target_version]
    if spec.strategy.ab_test is not None:
        names += [variant.version for variant in spec.strategy.ab_test.variants]
    return list(dict.fromkeys(names))


def pod_policy_violations(spec: RolloutSpec, versions: Mapping[str, ModelVersion], policy: PodPolicy) -> list[str]:
    if not policy.enforce:
        return []
    problems: list[str] = []
    for name in versions_to_deploy(spec):
        version = versions.get(name)
        if version is None:
            continue  # a missing version is reported by validation
        pod = version.spec.template.spec.model_dump(by_alias=True, exclude_none=True)
        problems += [f"ModelVersion {name}: {problem}" for problem in template_violations(pod, policy)]
    return problems


def template_violations(pod: Mapping[str, Any], policy: PodPolicy) -> list[str]:
    """What in one pod spec the policy forbids, each with the field and the setting that allows it."""
    problems: list[str] = []
    account = pod.get("serviceAccountName") or pod.get("serviceAccount") or "default"
    if policy.allowed_service_accounts and account not in policy.allowed_service_accounts:
        allowed = ", ".join(policy.allowed_service_accounts)
        problems.append(
            f"spec.template.spec.serviceAccountName {account!r} is not allowed by the operator's pod policy "
            f"(allowed: {allowed}; setting podPolicy.allowedServiceAccounts)"
        )
    if not policy.allow_host_namespaces:
        for field in _HOST_NAMESPACES:
            if pod.get(field):
                problems.append(
                    f"spec.template.spec.{field} is not allowed by the operator's pod policy "
                    "(setting podPolicy.allowHostNamespaces)"
                )
    if not policy.allow_host_path:
        for index, volume in enumerate(pod.get("volumes") or []):
            if isinstance(volume, Mapping) and volume.get("hostPath") is not None:
                problems.append(
                    f"spec.template.spec.volumes[{index}] ({volume.get('name', '?')}) is a hostPath volume, "
                    "not allowed by the operator's pod policy (setting podPolicy.allowHostPath)"
                )
    for list_name in _CONTAINER_LISTS:
        for index, container in enumerate(pod.get(list_name) or []):
            if isinstance(container, Mapping):
                where = f"spec.template.spec.{list_name}[{index}] ({container.get('name', '?')})"
                problems += _container_violations(where, container, policy)
    return problems


def _container_violations(where: str, container: Mapping[str, Any], policy: PodPolicy) -> list[str]:
    problems: list[str] = []
    context = container.get("securityContext") or {}
    if not policy.allow_privileged and isinstance(context, Mapping):
        if context.get("privileged"):
            problems.append(
                f"{where}: securityContext.privileged is not allowed by the operator's pod policy "
                "(setting podPolicy.allowPrivileged)"
            )
        if context.get("allowPrivilegeEscalation"):
            problems.append(
                f"{where}: securityContext.allowPrivilegeEscalation is not allowed by the operator's pod policy "
                "(setting podPolicy.allowPrivileged)"
            )
    if not policy.allow_host_namespaces:
        for port in container.get("ports") or []:
            if isinstance(port, Mapping) and port.get("hostPort"):
                problems.append(
                    f"{where}: ports with hostPort {port['hostPort']} are not allowed by the operator's pod policy "
                    "(setting podPolicy.allowHostNamespaces)"
                )
    return problems
