"""The real parts tests and the demo run against: a local Kubernetes control plane (etcd,
kube-apiserver, kube-controller-manager, kube-scheduler, kwok) and a local Prometheus."""

from modelrollout.devenv.binaries import MissingBinaryError, ensure_binaries, find_binary
from modelrollout.devenv.controlplane import LocalCluster
from modelrollout.devenv.dev import DEFAULT_STATE_DIR, DevEnvironment, down, up
from modelrollout.devenv.processes import ProcessFailedError, free_port, wait_until
from modelrollout.devenv.prometheus import LocalPrometheus, TargetsFile

__all__ = [
    "DEFAULT_STATE_DIR",
    "DevEnvironment",
    "LocalCluster",
    "LocalPrometheus",
    "MissingBinaryError",
    "ProcessFailedError",
    "TargetsFile",
    "down",
    "ensure_binaries",
    "find_binary",
    "free_port",
    "up",
    "wait_until",
]
