"""The built-in loop's Keras 3 step (one tf.function around the model's train_step) against
Keras' own train_on_batch on real Keras 3 releases: bitwise the same losses and weights (an MLP,
and a CNN with Dropout and BatchNormalization), so built-in cells keep their meaning and ids."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tfrepro.execute.cellrun import RUNNER_DIR

from .helpers import ok, tfrepro

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).parent.parent / "fixtures" / "guest" / "keras3_step_equivalence.py"


@pytest.mark.parametrize("release", ["2.16", "2.21"])
def test_the_keras3_step_is_bitwise_train_on_batch(
    release: str, tmp_path: Path, env_cache: Path
) -> None:
    ok(tfrepro("envs", "build", "--tf", release, cwd=tmp_path, cache=env_cache))
    envs = json.loads(ok(tfrepro("envs", "list", "--json", cwd=tmp_path, cache=env_cache)).stdout)
    mine = [e for e in envs if e["versions"]["tensorflow"].startswith(release + ".")]
    env = max(mine, key=lambda e: [int(p) for p in e["versions"]["tensorflow"].split(".")])
    done = subprocess.run(
        [str(Path(env["path"]) / "bin" / "python"), str(SCRIPT), str(RUNNER_DIR)],
        capture_output=True,
        text=True,
        timeout=600,
        env={"CUDA_VISIBLE_DEVICES": "-1", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for model in ("mlp", "cnn"):
        assert result[model]["losses_equal"] and result[model]["weights_equal"], result
    if release == "2.16":  # Keras 3.4 retraces train_on_batch's step on every call
        assert result["mlp"]["ms_fast"] * 10 < result["mlp"]["ms_train_on_batch"], result
