"""Shared fixtures of the fast unit tests: no TensorFlow, no environment builds."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tfrepro.envs import catalogue as catalogue_mod
from tfrepro.envs import provision
from tfrepro.envs.interpreters import Interpreter


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache (so the shipped catalogue snapshot is used), and no environment builds."""
    cache = tmp_path / "tfrepro-cache"
    monkeypatch.setenv("TFREPRO_CACHE", str(cache))

    def no_build(*args: object, **kwargs: object) -> None:
        raise AssertionError("a unit test tried to build a TensorFlow environment")

    monkeypatch.setattr(provision, "ensure", no_build)
    monkeypatch.setattr(provision, "_build", no_build)
    return cache


@pytest.fixture
def read_only(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    """read_only(folder): the folder and everything in it as os.access sees a read-only
    folder (chmod -R a-w, a read-only mount). Tests run as root, for whom chmod stops no
    write, so what decides on it is tested by what it reads."""
    real = os.access

    def make(root: Path) -> None:
        root = root.resolve()

        def access(path: Any, mode: int, **kwargs: Any) -> bool:
            if mode & os.W_OK and Path(path).resolve().is_relative_to(root):
                return False
            return real(path, mode, **kwargs)

        monkeypatch.setattr(os, "access", access)

    return make


@pytest.fixture
def cat() -> catalogue_mod.Catalogue:
    return catalogue_mod.load()


@pytest.fixture
def interps() -> dict[str, Interpreter]:
    """Made-up interpreters for planning (paths are never run)."""
    return {
        m: Interpreter(f"/opt/python{m}/bin/python{m}", f"{m}.{p}")
        for m, p in (("3.9", 18), ("3.10", 13), ("3.11", 7), ("3.12", 1))
    }


@pytest.fixture
def host_python() -> Interpreter:
    major, minor, micro = sys.version_info[:3]
    return Interpreter(sys.executable, f"{major}.{minor}.{micro}")
