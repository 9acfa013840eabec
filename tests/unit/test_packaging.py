"""What `pip install modelrollout` gets: the operator and its CLI, not the local environment or the simulator."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # From a copy of what the sdist holds, so the build leaves nothing in the checkout.
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "operator", source / "operator", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("modelrollout-*.whl")
    return built


def test_wheel_ships_the_operator_without_devenv_and_sim(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    modules = {name for name in names if name.endswith(".py")}
    assert "modelrollout/handlers/operator.py" in modules
    assert "modelrollout/cli/main.py" in modules
    assert "modelrollout/py.typed" in names
    assert not [name for name in names if name.startswith(("modelrollout/devenv/", "modelrollout/sim/"))]


def test_wheel_declares_the_kubectl_plugin_and_runtime_dependencies(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    (entry_points,) = [n for n in archive.namelist() if n.endswith("entry_points.txt")]
    assert "kubectl-modelrollout = modelrollout.cli.main:main" in archive.read(entry_points).decode()
    (metadata,) = [n for n in archive.namelist() if n.endswith("METADATA")]
    requires = Parser().parsestr(archive.read(metadata).decode()).get_all("Requires-Dist") or []
    runtime = sorted(r.split(">")[0].split("<")[0].split("=")[0].strip() for r in requires if "extra ==" not in r)
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert len(runtime) == len(declared)
    # Test tooling stays in the dev extra.
    assert not {"pytest", "ruff", "mypy", "import-linter"} & set(runtime)


def test_dev_install_keeps_the_local_environment_import_names() -> None:
    """A checkout's editable install still has them (../shared/peers/argo/compare.py uses these)."""
    from modelrollout.devenv import LocalCluster, LocalPrometheus
    from modelrollout.devenv.operator import OperatorProcess
    from modelrollout.sim import SimulatorFleet

    assert {LocalCluster.__name__, LocalPrometheus.__name__, OperatorProcess.__name__, SimulatorFleet.__name__}


def test_installed_operator_runs_without_the_dev_packages(wheel: Path, tmp_path: Path) -> None:
    """The wheel's own files first on the path: the CLI works, and the demo says it needs a checkout."""
    zipfile.ZipFile(wheel).extractall(tmp_path)
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        code = "import sys, modelrollout.cli.main as m; print(m.__file__, file=sys.stderr); m.main()"
        return subprocess.run(
            [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    assert run("status", "--help").returncode == 0
    demo = run("demo")
    where, *rest = demo.stderr.splitlines()
    assert where.startswith(str(tmp_path))
    assert demo.returncode == 1
    assert rest == [
        "Error: `modelrollout demo` needs the local environment (modelrollout.devenv, modelrollout.sim), which only "
        "a checkout's dev install has: clone the repository and run `make demo` there"
    ]
