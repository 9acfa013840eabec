"""The operator image: a base pinned by digest, and every Python package from the hash-checked lock."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def locked() -> dict[str, str]:
    """name -> pinned version of requirements.lock (each with at least one sha256)."""
    text = (ROOT / "requirements.lock").read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\\n\s+--hash=sha256:[0-9a-f]{64}", text, re.MULTILINE))
    return {canonicalize_name(name): version for name, version in pins.items()}


def test_base_image_is_pinned_by_digest() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    bases = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", dockerfile, re.MULTILINE)
    assert len(bases) == 1 and re.fullmatch(r"python:3\.11\.\d+-slim-\w+@sha256:[0-9a-f]{64}", bases[0]), bases
    assert all(line.split()[1] in ("${PYTHON_IMAGE}",) for line in re.findall(r"^FROM .*$", dockerfile, re.MULTILINE))


def test_build_installs_only_the_lock_and_leaves_no_installer() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    installs = re.findall(r"pip install [^\n]*", dockerfile)
    assert installs == [
        "pip install --require-hashes --no-deps -r requirements.lock",
        "pip install --no-deps --no-build-isolation --no-index . \\",
    ]
    assert "python -m pip uninstall --yes pip" in dockerfile  # the venv's
    assert "python -m pip uninstall --yes pip setuptools wheel" in dockerfile  # the base image's


def test_lock_pins_every_runtime_dependency_and_no_dev_tool() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = locked()
    for line in project["project"]["dependencies"]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock: run make lock"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} outside {requirement.specifier}"
    build = {canonicalize_name(Requirement(line).name) for line in project["build-system"]["requires"]}
    for line in project["project"]["optional-dependencies"]["dev"]:
        name = canonicalize_name(Requirement(line).name)
        # The dev extra also lists the build backend, so that a dev venv builds wheels as the image does.
        assert name in build or name not in pins, f"dev tool {line} in the image's lock"
    assert build <= set(pins), "the build backend must be locked too"


def test_build_context_holds_only_what_the_build_copies() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[ignore.index("*") + 1 :][:4] == ["!requirements.lock", "!pyproject.toml", "!README.md", "!operator/"]
