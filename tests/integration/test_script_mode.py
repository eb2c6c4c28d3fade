"""Script mode on real releases: users' own scripts, unaware of tfrepro, run unchanged.

Keras 2 (2.15) and Keras 3 (2.16): a tutorial-style CNN with fit(validation_split, callbacks),
evaluate and model.save, taking command-line flags; A/A and the seed axis. On 2.15: a script
that crashes halfway, one that seeds itself (both seeding modes), a notebook, a custom
GradientTape loop over a tf.data pipeline with a seeded shuffle.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pytest

from .helpers import SCRIPTS, cells, ok, script_project, tfrepro

pytestmark = pytest.mark.integration


def test_a_tutorial_script_on_keras_2_and_3_unchanged(tmp_path: Path, env_cache: Path) -> None:
    project = script_project(tmp_path)
    store = tmp_path / "store"
    script = ["--", "python", "tutorial_cnn.py", "--epochs", "2"]
    run = ["run", "--tf", "2.15,2.16", "--seeds", "0,1", "--jobs", "2", "--store", store]
    done = ok(tfrepro(*run, *script, cwd=project, cache=env_cache))
    assert "4 cells planned" in done.stdout
    ok(tfrepro("run", "--tf", "2.16", "--seeds", "0", "--rerun", "--store", store, *script,
               cwd=project, cache=env_cache))  # fmt: skip
    every = cells(store, project, env_cache, all_attempts=True)
    assert [c["status"] for c in every] == ["ok"] * 5
    by = {(c["tf_version"][:4], c["seed"], c["attempt"]): c for c in every}
    for release in ("2.15", "2.16"):
        c = by[(release, 0, 1)]
        info = c["script"]
        assert info["exit_code"] == 0 and info["loss_from"] == "keras", info
        # 1400 samples, validation_split 0.1 → 1260 train, batch 64 → 20 steps x 2 epochs
        assert len(c["loss"]) == 40
        assert [sorted(e) for e in c["epoch_metrics"]] == [
            ["accuracy", "loss", "val_accuracy", "val_loss"]
        ] * 2
        assert set(c["metrics"]) == {"loss", "accuracy"}, c["metrics"]  # from evaluate
        assert info["metrics_from"] == "evaluate"
        assert info["models"][0]["class"] == "Sequential"
        assert info["models"][0]["final_sha256"] == c["final_weights_sha256"]
        assert c["init_weights_sha256"] and c["data_sha256"]
        assert "test accuracy" in info["stdout_tail"]
        assert not info["warnings"], info["warnings"]
        # the seed axis changes the weights; the data is the script's own either way
        assert c["final_weights_sha256"] != by[(release, 1, 1)]["final_weights_sha256"]
        assert c["data_sha256"] == by[(release, 1, 1)]["data_sha256"]
    # A/A: the same script and seed again, bitwise the same weights
    assert by[("2.16", 0, 2)]["final_weights_sha256"] == by[("2.16", 0, 1)]["final_weights_sha256"]
    assert by[("2.16", 0, 2)]["loss"] == by[("2.16", 0, 1)]["loss"]
    # isolation: model.save wrote into each cell's own copy, never into the project
    assert not (project / "digits_cnn.keras").exists()
    # everything downstream works on script cells unchanged (churn needs predictions + labels)
    compared = ok(tfrepro("compare", "--store", store, cwd=project, cache=env_cache)).stdout
    assert "2.15.1 → 2.16.2" in compared and "churn" in compared


def test_crash_self_seeding_notebook_and_custom_loop(tmp_path: Path, env_cache: Path) -> None:
    project = script_project(tmp_path)
    store = tmp_path / "store"

    def run(*args: str) -> str:
        return ok(tfrepro("run", "--tf", "2.15", "--store", store, *args, cwd=project,
                          cache=env_cache)).stdout  # fmt: skip

    # a crash halfway: a failed cell with the script's exception and the steps before it
    run("--seeds", "0", "--", "python", "tutorial_cnn.py", "--epochs", "3", "--fail-at-epoch", "1")
    # a script that seeds itself: by default each cell's seed replaces the script's
    out = run("--seeds", "0,1", "--", "python", "seeds_itself.py")
    assert "the script seeds itself (random.seed(42) at seeds_itself.py:9" in out
    (project / "own_seeds.toml").write_text(
        '[script]\ncommand = ["python", "seeds_itself.py"]\nseeding = "script"\n'
    )
    run("own_seeds.toml", "--seeds", "0,1")
    # a notebook: code cells in order, the IPython line skipped with a warning
    nb = nbformat.v4.new_notebook()
    source = (
        (SCRIPTS / "tutorial_cnn.py")
        .read_text()
        .replace("args = parser.parse_args()", "args = parser.parse_args([])")
    )
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Digits"),
        nbformat.v4.new_code_cell("%matplotlib inline\nimport numpy as np"),
        nbformat.v4.new_code_cell(source),
    ]
    nbformat.write(nb, str(project / "digits.ipynb"))
    out = run("--seeds", "0", "--", "digits.ipynb")
    assert "notebook cell 1: IPython line '%matplotlib inline' skipped" in out
    # a custom GradientTape loop over a seeded tf.data shuffle
    run("--seeds", "0", "--", "python", "custom_loop.py")

    got = cells(store, project, env_cache)
    crashed = next(c for c in got if c["status"] != "ok")
    assert crashed["script"]["argv"] == ["--epochs", "3", "--fail-at-epoch", "1"]
    assert crashed["status"] == "failed"
    assert "RuntimeError: simulated crash in epoch 1" in crashed["reason"]
    assert len(crashed["loss"]) == 20  # epoch 0's steps were kept
    assert "tutorial_cnn.py" in crashed["traceback"]

    seeded = [c for c in got if c["script"]["seed_calls"]]
    cell_mode = {c["seed"]: c for c in seeded if c["script"]["seeding"] == "cell"}
    script_mode = {c["seed"]: c for c in seeded if c["script"]["seeding"] == "script"}
    assert cell_mode[0]["script"]["seed_calls"][0] == {
        "call": "random.seed", "value": 42, "where": "seeds_itself.py:9", "used": 0
    }  # fmt: skip
    assert cell_mode[0]["final_weights_sha256"] != cell_mode[1]["final_weights_sha256"]
    # the script's own seeds kept: the seed axis no longer changes anything it seeds
    assert script_mode[0]["final_weights_sha256"] == script_mode[1]["final_weights_sha256"]
    assert cell_mode[0]["experiment"] != script_mode[0]["experiment"]

    notebook = next(c for c in got if c["script"]["target"] == "digits.ipynb")
    assert notebook["status"] == "ok" and notebook["script"]["loss_from"] == "keras"
    assert notebook["metrics"]["accuracy"] > 0.3

    loop = next(c for c in got if c["script"].get("custom_loop"))
    assert loop["script"]["loss_from"] == "gradient_tape"
    assert loop["script"]["custom_loop"] == {"steps_seen": 16, "in_tf_function": False}
    assert len(loop["loss"]) == 16 and loop["final_weights_sha256"] != loop["init_weights_sha256"]
    assert loop["script"]["data"][0]["what"] == "arrays given to tf.data sources"
    # tf.summary scalars, read back from the event files the loop wrote
    summary = loop["logs"]["summary:logs/train_loss"]
    assert [s for s, _ in summary] == list(range(16))
    assert np.allclose([v for _, v in summary], loop["loss"], rtol=1e-6)


def test_a_tf1_session_script_on_1_15(tmp_path: Path, env_cache: Path) -> None:
    """Placeholders, tf.train.AdamOptimizer().minimize, Session.run([train_op, loss], feed_dict)
    on TF 1.15 in graph mode, as the script would run bare (no eager mode forced on it)."""
    project = script_project(tmp_path)
    store = tmp_path / "store"
    script = ["--", "python", "tf1_session.py"]
    ok(tfrepro("run", "--tf", "1.15", "--seeds", "0,1", "--store", store, *script,
               cwd=project, cache=env_cache))  # fmt: skip
    ok(tfrepro("run", "--tf", "1.15", "--seeds", "0", "--rerun", "--store", store, *script,
               cwd=project, cache=env_cache))  # fmt: skip
    every = cells(store, project, env_cache, all_attempts=True)
    assert [c["status"] for c in every] == ["ok"] * 3
    by = {(c["seed"], c["attempt"]): c for c in every}
    c = by[(0, 1)]
    info = c["script"]
    assert info["loss_from"] == "session.run" and not info["warnings"], info
    op = info["tf1_train_op"]
    assert op["steps"] == 28 and op["loss"] == "Mean:0"  # 1400 rows / 100 per batch, 2 epochs
    assert op["variables"] == ["hidden/kernel:0", "hidden/bias:0", "logits/kernel:0",
                               "logits/bias:0"]  # fmt: skip
    assert len(c["loss"]) == 28
    # the loss tfrepro fetched with each step is the one the script printed after each epoch
    printed = [float(line.split()[-1]) for line in info["stdout_tail"].splitlines()
               if line.startswith("epoch")]  # fmt: skip
    assert printed == pytest.approx([c["loss"][13], c["loss"][27]], rel=1e-6)
    assert c["init_weights_sha256"] != c["final_weights_sha256"]
    assert info["data"][0]["what"] == "arrays fed to the train op"
    # A/A bitwise; the seed axis changes initial weights and the script's own batch order
    again = by[(0, 2)]
    assert again["final_weights_sha256"] == c["final_weights_sha256"]
    assert again["loss"] == c["loss"] and again["data_sha256"] == c["data_sha256"]
    other = by[(1, 1)]
    assert other["init_weights_sha256"] != c["init_weights_sha256"]
    assert other["data_sha256"] != c["data_sha256"]


def test_bisect_on_a_script(tmp_path: Path, env_cache: Path) -> None:
    """bisect runs script cells like any others: 2.15 → 2.16 is the Keras 3 switch, so the
    first release whose tutorial-script weights differ is 2.16.1 (2.16.0 was never released)."""
    project = script_project(tmp_path)
    store = tmp_path / "store"
    done = ok(tfrepro("bisect", "--good", "2.15", "--bad", "2.16", "--json", "--store", store,
                      "--", "python", "tutorial_cnn.py", "--epochs", "1",
                      cwd=project, cache=env_cache))  # fmt: skip
    result = json.loads(done.stdout)
    assert result["status"] == "found" and result["first_bad"] == "2.16.1", result
    every = cells(store, project, env_cache)
    assert {c["tf_version"] for c in every} >= {"2.15.1", "2.16.1"}
    assert all(c["status"] == "ok" and c["script"]["target"] == "tutorial_cnn.py" for c in every)
    by = {c["tf_version"]: c["final_weights_sha256"] for c in every}
    assert by["2.16.1"] != by["2.15.1"]
