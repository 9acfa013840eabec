"""Where the local environment finds its programs (no programs are run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelrollout.devenv import binaries


def _executable(directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    assets, cache = tmp_path / "envtest", tmp_path / "cache"
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(assets))
    monkeypatch.setenv("MODELROLLOUT_BIN_DIR", str(cache))
    return assets, cache


def test_envtest_assets_win_for_the_programs_envtest_ships(dirs: tuple[Path, Path]) -> None:
    assets, cache = dirs
    expected = _executable(assets, "kube-apiserver")
    _executable(cache, "kube-apiserver")
    assert binaries.find_binary("kube-apiserver") == expected


def test_other_programs_come_from_the_cache(dirs: tuple[Path, Path]) -> None:
    assets, cache = dirs
    _executable(assets, "kwok")
    expected = _executable(cache, "kwok")
    assert binaries.find_binary("kwok") == expected


def test_missing_and_non_executable_files_are_not_found(dirs: tuple[Path, Path]) -> None:
    _, cache = dirs
    cache.mkdir()
    (cache / "kubectl").write_text("not executable")
    assert binaries.find_binary("kubectl") is None


def test_cache_dir_follows_the_pinned_kubernetes_version(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MODELROLLOUT_BIN_DIR", raising=False)
    monkeypatch.setenv("MODELROLLOUT_CACHE", str(tmp_path))
    assert binaries.cache_bin_dir() == tmp_path / "bin" / binaries.k8s_version()
    assert binaries.k8s_version().startswith("v1.")
