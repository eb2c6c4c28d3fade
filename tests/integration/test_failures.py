"""A model that raises, one that hangs past its timeout and one that produces NaN are
each recorded with their status, while the others finish."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .helpers import cells, ok, tfrepro

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).parent.parent / "fixtures" / "faulty_model.py"

SPEC = """
name = "faults"
timeout = 45
[model]
source = "faulty_model.py"
[train]
epochs = 1
[matrix]
tf = ["2.15"]
seeds = [0]
[matrix.env]
TFREPRO_FAULT = ["raise", "hang", "nan", "ok"]
"""


def test_failures_are_recorded_and_the_matrix_goes_on(tmp_path: Path, env_cache: Path) -> None:
    shutil.copy(FIXTURE, tmp_path / "faulty_model.py")
    (tmp_path / "faults.toml").write_text(SPEC)
    done = ok(
        tfrepro("run", "faults.toml", "--jobs", "2", "--store", "st", cwd=tmp_path, cache=env_cache)
    )
    by_mode = {
        c["env_vars"]["TFREPRO_FAULT"]: c for c in cells(tmp_path / "st", tmp_path, env_cache)
    }
    assert by_mode["ok"]["status"] == "ok"
    assert by_mode["raise"]["status"] == "failed"
    assert "deliberate failure from the fixture model" in by_mode["raise"]["reason"]
    assert "Traceback" in by_mode["raise"]["traceback"]
    assert by_mode["hang"]["status"] == "timeout"
    assert "45" in by_mode["hang"]["reason"]
    assert by_mode["nan"]["status"] == "diverged"
    assert "nan" in by_mode["nan"]["reason"].lower()
    assert by_mode["nan"]["loss"][0] is None  # NaN is stored as null: JSON has no NaN
    assert "failed" in done.stdout and "timeout" in done.stdout
