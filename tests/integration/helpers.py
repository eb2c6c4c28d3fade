"""Running the real CLI and reading the real store, for integration tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration


def tfrepro(
    *args: str | Path, cwd: Path, cache: Path, timeout: float = 1500
) -> subprocess.CompletedProcess[str]:
    """Run `python -m tfrepro ARGS` with the test's environment cache."""
    return subprocess.run(
        [sys.executable, "-m", "tfrepro", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**_base_env(), "TFREPRO_CACHE": str(cache), "COLUMNS": "200"},
    )


def _base_env() -> dict[str, str]:
    import os

    return dict(os.environ)


def cells(
    store: Path, cwd: Path, cache: Path, *, all_attempts: bool = False
) -> list[dict[str, Any]]:
    args = ["cells", "--store", store, "--json"] + (["--all"] if all_attempts else [])
    done = tfrepro(*args, cwd=cwd, cache=cache)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def ok(done: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert done.returncode == 0, (
        f"exit {done.returncode}\nSTDOUT:\n{done.stdout}\nSTDERR:\n{done.stderr}"
    )
    return done


SCRIPTS = Path(__file__).parent.parent / "fixtures" / "scripts"


def script_project(tmp_path: Path) -> Path:
    """A user's project folder: the fixture scripts and the digits they read from data/."""
    import shutil

    import numpy as np
    from sklearn.datasets import load_digits

    project = tmp_path / "project"
    shutil.copytree(SCRIPTS, project)
    (project / "data").mkdir()
    digits = load_digits()
    np.savez(project / "data" / "digits.npz", x=digits.data.astype("float32"), y=digits.target)
    return project
