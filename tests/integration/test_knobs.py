"""Knobs reach TensorFlow: legacy Keras, the three optimizer implementations, oneDNN."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import cells, ok, tfrepro

pytestmark = pytest.mark.integration

KERAS3 = """
name = "keras knobs"
[train]
epochs = 1
[matrix]
tf = ["2.16"]
seeds = [0]
[matrix.knobs]
legacy_keras = [false, true]
optimizer_impl = ["keras", "legacy", "tf1"]
"""

ONEDNN = """
name = "onednn"
[train]
epochs = 1
[matrix]
tf = ["2.15"]
seeds = [0]
[matrix.knobs]
onednn = ["off", "on"]
"""


def _run(tmp_path: Path, env_cache: Path, text: str) -> list[dict]:
    (tmp_path / "spec.toml").write_text(text)
    ok(tfrepro("run", "spec.toml", "--jobs", "2", "--store", "st", cwd=tmp_path, cache=env_cache))
    return cells(tmp_path / "st", tmp_path, env_cache)


def test_legacy_keras_and_optimizer_implementations(tmp_path: Path, env_cache: Path) -> None:
    by = {
        (c["knobs"]["legacy_keras"], c["knobs"]["optimizer_impl"]): c
        for c in _run(tmp_path, env_cache, KERAS3)
    }
    assert len(by) == 6
    # Keras 3 has no legacy optimizers: recorded as a failure that says what to do
    assert by[(False, "legacy")]["status"] == "failed"
    assert "legacy_keras=true" in by[(False, "legacy")]["reason"]
    assert by[(False, "keras")]["keras_version"].startswith("3.")
    assert by[(True, "keras")]["keras_version"].startswith("2.16")
    assert by[(True, "keras")]["fingerprint"]["keras_module"] == "tf_keras"
    assert "legacy" in by[(True, "legacy")]["optimizer_class"]
    assert by[(False, "tf1")]["optimizer_class"] == "AdamOptimizer"
    assert by[(True, "tf1")]["optimizer_class"] == "AdamOptimizer"
    ok_cells = [c for c in by.values() if c["status"] == "ok"]
    assert len(ok_cells) == 5
    # same seed, same data, same initial weights under tf.keras 2 and Keras 3 …
    assert len({c["init_weights_sha256"] for c in ok_cells}) == 1
    # … but five different training paths give five different final weights
    assert len({c["final_weights_sha256"] for c in ok_cells}) == 5


def test_onednn_knob_is_applied_and_recorded(tmp_path: Path, env_cache: Path) -> None:
    by = {c["knobs"]["onednn"]: c for c in _run(tmp_path, env_cache, ONEDNN)}
    assert by["off"]["fingerprint"]["onednn_enabled"] is False
    assert by["on"]["fingerprint"]["onednn_enabled"] is True
    assert by["on"]["fingerprint"]["onednn_log_says_on"] is True
    assert by["off"]["fingerprint"]["tf_env"]["TF_ENABLE_ONEDNN_OPTS"] == "0"
