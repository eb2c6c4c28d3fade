"""A user's own model file with a custom fit(ctx, model), on TF 1.15 and on Keras 3."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from .helpers import cells, ok, tfrepro

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).parent.parent / "fixtures" / "custom_fit_model.py"

SPEC = """
name = "custom loop"
[model]
source = "models/custom_fit_model.py"
[data]
name = "wine"
[train]
epochs = 2
batch_size = 16
optimizer = "sgd"
learning_rate = 0.05
[params]
width = 8
[matrix]
tf = ["1.15", "2.21"]
seeds = [3]
"""


def test_custom_fit_runs_everywhere_and_its_logs_are_stored(
    tmp_path: Path, env_cache: Path
) -> None:
    (tmp_path / "models").mkdir()
    shutil.copy(FIXTURE, tmp_path / "models" / "custom_fit_model.py")
    (tmp_path / "exp.toml").write_text(SPEC)
    ok(tfrepro("run", "exp.toml", "--store", "st", cwd=tmp_path, cache=env_cache))
    recorded = cells(tmp_path / "st", tmp_path, env_cache)
    assert {c["tf_version"][:4] for c in recorded} == {"1.15", "2.21"}
    steps = 2 * math.ceil(133 / 16)  # wine: 178 samples, 25 % test split
    for c in recorded:
        assert c["status"] == "ok", c["reason"]
        assert len(c["loss"]) == steps
        norms = c["logs"]["grad_norm"]
        assert [s for s, _ in norms] == list(range(steps))
        assert all(v > 0 for _, v in norms)
        assert "SGD" in c["optimizer_class"]
