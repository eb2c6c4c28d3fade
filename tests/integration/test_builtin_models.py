"""The built-in CNN and RNN run unchanged on TF 1.15 (Python 3.7), a Keras 2 release and Keras 3
(the MLP is covered by test_cross_release)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import cells, ok, tfrepro

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("model", ["cnn", "rnn"])
def test_builtin_model_trains_from_tf1_to_keras_3(
    model: str, tmp_path: Path, env_cache: Path
) -> None:
    run = (
        "run",
        "--model",
        f"builtin:{model}",
        "--tf",
        "1.15,2.15,2.21",
        "--seeds",
        "0",
        "--epochs",
        "1",
        "--jobs",
        "2",
        "--store",
        "st",
    )
    ok(tfrepro(*run, cwd=tmp_path, cache=env_cache))
    recorded = {c["tf_version"]: c for c in cells(tmp_path / "st", tmp_path, env_cache)}
    assert set(recorded) == {"1.15.5", "2.15.1", "2.21.0"}
    assert {c["status"] for c in recorded.values()} == {"ok"}, [
        c["reason"] for c in recorded.values()
    ]
    assert {c["keras_version"].split(".")[0] for c in recorded.values()} == {"2", "3"}
    for c in recorded.values():
        assert c["metrics"]["accuracy"] > 0.15, c  # digits has 10 classes: above chance
        assert len(c["loss"]) == 22  # 1,347 training images (75% of 1,797), batches of 64
    # measured: Keras 3 (2.21) draws the same seeded initial weights as Keras 2 (2.15)
    assert recorded["2.15.1"]["init_weights_sha256"] == recorded["2.21.0"]["init_weights_sha256"]
