"""Finding (and, from a checkout, building) the upstream programs the local environment runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

# Used when the package runs outside a checkout (no hack/toolchain to read the pin from).
DEFAULT_K8S_VERSION = "v1.35.4"

# Programs that setup-envtest ships; KUBEBUILDER_ASSETS is searched first for these.
ENVTEST_PROGRAMS = frozenset({"etcd", "kube-apiserver", "kube-controller-manager", "kubectl"})
CONTROL_PLANE_PROGRAMS = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "kwok",
)


class MissingBinaryError(RuntimeError):
    pass


def repo_root() -> Path | None:
    """The checkout this package was installed from in editable mode, if any."""
    candidate = Path(__file__).resolve().parents[3]
    return candidate if (candidate / "hack" / "build-binaries.sh").is_file() else None


def k8s_version() -> str:
    root = repo_root()
    if root is not None:
        go_mod = (root / "hack" / "toolchain" / "k8s" / "go.mod").read_text()
        match = re.search(r"^require k8s\.io/kubernetes (\S+)", go_mod, re.MULTILINE)
        if match:
            return match.group(1)
    return DEFAULT_K8S_VERSION


def cache_bin_dir() -> Path:
    """Where hack/build-binaries.sh puts what it builds (same rules as the script)."""
    if override := os.environ.get("MODELROLLOUT_BIN_DIR"):
        return Path(override)
    cache = Path(os.environ.get("MODELROLLOUT_CACHE", Path.home() / ".cache" / "modelrollout"))
    return cache / "bin" / k8s_version()


def find_binary(name: str) -> Path | None:
    candidates: list[Path] = []
    if name in ENVTEST_PROGRAMS and (assets := os.environ.get("KUBEBUILDER_ASSETS")):
        candidates.append(Path(assets) / name)
    candidates.append(cache_bin_dir() / name)
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    return None


def ensure_binaries(names: tuple[str, ...] = CONTROL_PLANE_PROGRAMS) -> dict[str, Path]:
    """Paths of `names`; builds the missing ones with hack/build-binaries.sh when in a checkout."""
    missing = [name for name in names if find_binary(name) is None]
    if missing:
        build_binaries(missing)
    found = {name: find_binary(name) for name in names}
    still_missing = sorted(name for name, path in found.items() if path is None)
    if still_missing:
        raise MissingBinaryError(
            f"missing {', '.join(still_missing)} in {cache_bin_dir()}"
            " (run hack/build-binaries.sh, or point KUBEBUILDER_ASSETS at envtest binaries)"
        )
    return {name: path for name, path in found.items() if path is not None}


def build_binaries(missing: list[str]) -> None:
    root = repo_root()
    if root is None:
        raise MissingBinaryError(
            f"missing {', '.join(missing)} in {cache_bin_dir()} and no checkout to build them from"
        )
    print(f"building {', '.join(missing)} with hack/build-binaries.sh (cached afterwards)", file=sys.stderr)
    # Output goes to file descriptor 2 so a long first build is visible in CI logs.
    subprocess.run(["bash", str(root / "hack" / "build-binaries.sh")], check=True, stdout=2, cwd=root)
