"""The import contracts are real: a copy of the package whose core imports kopf breaks them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(source_root: Path, config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(source_root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config), "--no-cache"],
        capture_output=True,
        text=True,
        env=env,
        cwd=source_root,
        timeout=120,
        check=False,
    )


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "operator" / "modelrollout", tmp_path / "modelrollout", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_contracts_hold_for_the_package(package_copy: Path) -> None:
    result = lint_imports(package_copy, package_copy / "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("core/machine.py", "import kopf", "The pure core and analysis talk to no cluster and no network"),
        ("analysis/evaluate.py", "import requests", "The pure core and analysis talk to no cluster and no network"),
        ("core/canary.py", "import modelrollout.handlers.reconciler", "Layers only point down"),
        ("handlers/reconciler.py", "import modelrollout.sim", "The shipped operator never imports the dev-only"),
        ("cli/view.py", "import modelrollout.devenv.processes", "The shipped operator never imports the dev-only"),
    ],
)
def test_contract_breaks_when_a_lower_layer_reaches_up_or_out(
    package_copy: Path, module: str, line: str, broken: str
) -> None:
    path = package_copy / "modelrollout" / module
    path.write_text(f"{line}  # noqa\n" + path.read_text())
    result = lint_imports(package_copy, package_copy / "pyproject.toml")
    assert result.returncode != 0
    verdicts = [line for line in result.stdout.splitlines() if line.startswith(broken)]
    assert verdicts and "BROKEN" in verdicts[0], result.stdout
