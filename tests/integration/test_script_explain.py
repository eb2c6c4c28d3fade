"""`tfrepro explain A B -- python train.py` on real releases (2.15 Keras 2, 2.16 Keras 3), on
scripts unaware of tfrepro, probed at their first fit (or a custom loop's first apply_gradients).

What the tutorial CNN's explain must find here was measured by hand first: Keras 3's
`to_categorical` returns float64 labels where Keras 2's returned float32 (the data stage);
with A's batches, weights and gradients transplanted, inference-mode outputs are bitwise equal
and the first difference is the Dropout layer's training-mode output (Keras 3 draws other
masks); running B with legacy Keras (tf_keras) closes it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import cells, ok, script_project, tfrepro

pytestmark = pytest.mark.integration


def test_explain_on_the_tutorial_script_names_stage_layer_and_knob(
    tmp_path: Path, env_cache: Path
) -> None:
    project = script_project(tmp_path)
    store = tmp_path / "store"
    args = ["explain", "2.15", "2.16", "--store", store, "--knobs", "legacy_keras", "--json"]
    done = ok(tfrepro(*args, "--", "python", "tutorial_cnn.py", "--epochs", "2",
                      cwd=project, cache=env_cache))  # fmt: skip
    r = json.loads(done.stdout)
    first = r["first_divergence"]
    assert (first["stage"], first["layer"]) == ("data", "y: dtype float32 → float64, values equal")
    # Keras 3 draws other Dropout masks: in training mode the dropout output differs, with the
    # inference-mode forward pass equal
    assert first.get("training_mode", {}).get("layer") in (None, "dropout")
    stages = r["stages"]
    assert not stages["forward"]["diverged"] and stages["forward"]["bitwise"]
    assert r["first_after_transplant"] == "train_forward"
    assert stages["train_forward"]["where"] == "dropout"
    by_layer = {i["name"]: i for i in stages["train_forward"]["items"]}
    assert by_layer["conv2d"]["bitwise"] and not by_layer["dropout"]["bitwise"]
    # the tolerance came from a rerun of A: A is bitwise reproducible at every stage
    assert all(v == 0.0 for v in r["tolerances"].values()), r["tolerances"]
    (flip,) = r["ablations"]
    assert (flip["knob"], flip["value"], flip["status"]) == ("legacy_keras", True, "ok")
    assert flip["closes"] and flip["first_after_transplant"] == "none"
    assert r["causes"][0]["cause"].startswith("knob legacy_keras")
    assert any("Keras 3 random layers" in n["component"] for n in r["release_notes"])
    assert r["probes"] == 4
    # the probe ended each script at its first fit: it never reached model.save
    assert not (project / "digits_cnn.keras").exists()


def test_explain_on_a_subclassed_model_says_what_it_cannot_measure(
    tmp_path: Path, env_cache: Path
) -> None:
    project = script_project(tmp_path)
    store = tmp_path / "store"
    script = ["--", "python", "subclassed_data.py"]
    # run mode first: fit on a tf.data pipeline, a model built inside fit
    ok(tfrepro("run", "--tf", "2.15", "--seeds", "0", "--store", store, *script,
               cwd=project, cache=env_cache))  # fmt: skip
    (c,) = cells(store, project, env_cache)
    assert c["status"] == "ok" and len(c["loss"]) == 2 * 28  # 1400 rows / 50 per batch, 2 epochs
    assert c["script"]["data"][0]["what"] == "arrays given to tf.data sources"
    assert any("built inside fit" in w for w in c["script"]["warnings"])
    assert c["final_weights_sha256"]

    done = ok(tfrepro("explain", "2.15", "2.16", "--store", store, "--no-ablation", *script,
                      cwd=project, cache=env_cache))  # fmt: skip
    out = " ".join(done.stdout.split())
    assert "forward not measured: the model's layer outputs are not reachable" in out
    assert "(before it, not measured: forward, train_forward)" in out
    again = ["explain", "2.15", "2.15", "--store", store, "--no-ablation", "--json", *script]
    r = json.loads(ok(tfrepro(*again, cwd=project, cache=env_cache)).stdout)
    # A against itself: nothing diverges, and the unmeasured stages are still not called equal
    assert r["first_divergence"]["stage"] == "none"
    assert r["stages"]["forward"]["measured"] is False
    assert r["stages"]["gradient"]["bitwise"] and r["stages"]["trajectory"]["bitwise"]

    # a custom GradientTape loop: probed at its first eager apply_gradients; what it cannot
    # see (layer outputs, lockstep steps) is not measured. Measured by hand, 2.15 → 2.16: same
    # initial variables and loss, the first gradients differ (~3e-8); legacy Keras closes it
    loop = ["explain", "2.15", "2.16", "--store", store, "--knobs", "legacy_keras", "--json"]
    r = json.loads(ok(tfrepro(*loop, "--", "python", "custom_loop.py",
                              cwd=project, cache=env_cache)).stdout)  # fmt: skip
    stages = r["stages"]
    assert [n for n, s in stages.items() if not s.get("measured", True)] == [
        "forward",
        "train_forward",
        "trajectory",
    ]
    assert stages["init"]["bitwise"] and stages["loss"]["bitwise"]
    assert r["first_divergence"]["stage"] == "gradient"
    assert r["first_divergence"]["not_measured_before"] == ["forward", "train_forward"]
    assert r["ablations"][0]["closes"]

    # a loop of train_on_batch is not probed yet: explain says so for every stage, and says
    # what the two plain cells show instead (never as a stage)
    (project / "batches.py").write_text(
        "import numpy as np, tensorflow as tf\n"
        "m = tf.keras.Sequential([tf.keras.layers.Input((3,)), tf.keras.layers.Dense(1)])\n"
        "m.compile('sgd', 'mse')\n"
        "for _ in range(3):\n"
        "    m.train_on_batch(np.ones((4, 3)), np.ones((4, 1)))\n"
    )
    unprobed = ok(tfrepro("explain", "2.15", "2.16", "--store", store, "--json", "--", "python",
                          "batches.py", cwd=project, cache=env_cache))  # fmt: skip
    r = json.loads(unprobed.stdout)
    assert r["first_divergence"]["stage"] == "not measured"
    assert "trains with train_on_batch first" in r["first_divergence"]["reason"]
    assert all(not s["measured"] for s in r["stages"].values())
    assert r["cells_compared"]["weights"] in ("identical", "differ")
    assert "Traceback" not in unprobed.stderr
