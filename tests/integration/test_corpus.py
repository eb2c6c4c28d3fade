"""Scripts nobody here wrote for tfrepro (tests/corpus/), a fast subset on real releases: a cell's
status follows the script's bare run and its records are whole; a script that trains several
models is identical only when every model is, and explain probes the fit whose model differs; a
frozen BatchNormalization in a nested base is named at its training-mode output between 1.15
(graph mode) and 2.0 (keras#13892); "accuracy" with sigmoid outputs is named as a change of
the metric's definition (tensorflow#41114). The whole corpus is benchmarks/bench_corpus.py."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from .helpers import cells, ok, tfrepro

pytestmark = pytest.mark.integration


def _bare(python: str, script: str, cwd: Path) -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "PYTHONPATH"))}
    env.update(CUDA_VISIBLE_DEVICES="-1", TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(
        [python, script], cwd=cwd, env=env, capture_output=True, timeout=600, check=False
    ).returncode


def test_a_model_built_inside_fit_is_an_ok_cell_with_its_records(
    corpus: Path, tmp_path: Path, env_cache: Path
) -> None:
    """keras-io's reproducibility recipe: Sequential without Input, seeds itself (the cell
    failed with a KeyError before)."""
    store = tmp_path / "store"
    script = ["--", "python", "01_sequential_no_input.py"]
    ok(tfrepro("run", "--tf", "2.15", "--seeds", "0", "--store", store, *script,
               cwd=corpus, cache=env_cache))  # fmt: skip
    (c,) = cells(store, corpus, env_cache)
    assert c["status"] == "ok", c["reason"]
    assert len(c["loss"]) > 10 and c["metrics"] and c["final_weights_sha256"]
    warnings = c["script"]["warnings"]
    assert any("built inside fit" in w for w in warnings), warnings
    # the same script bare, with that environment's python: it exits 0 as well
    python = c["fingerprint"]["executable"]
    assert _bare(python, "01_sequential_no_input.py", corpus) == 0


def test_a_gan_after_two_models_counts_every_model_and_explain_probes_the_one_that_differs(
    corpus: Path, tmp_path: Path, env_cache: Path
) -> None:
    store = tmp_path / "store"
    script = ["--", "python", "09_several_models_then_gan.py"]
    ok(tfrepro("run", "--tf", "2.16,2.21", "--seeds", "0", "--store", store, *script,
               cwd=corpus, cache=env_cache))  # fmt: skip
    by_release = {c["tf_version"][:4]: c for c in cells(store, corpus, env_cache)}
    a, b = by_release["2.16"], by_release["2.21"]
    assert a["status"] == b["status"] == "ok"
    models_a, models_b = a["script"]["models"], b["script"]["models"]
    assert len(models_a) == len(models_b) >= 3
    differ = [ma["name"] for ma, mb in zip(models_a, models_b, strict=True)
              if ma["final_sha256"] != mb["final_sha256"]]  # fmt: skip
    compared = json.loads(ok(tfrepro("compare", "--store", store, "--json", cwd=corpus,
                                     cache=env_cache)).stdout)  # fmt: skip
    for row in compared:
        assert row["models_differ"] == differ
        assert (row["verdict"] == "bitwise-identical") == (not differ)
    if not differ:
        pytest.skip("every model trained bitwise identically on 2.16 and 2.21 here")
    done = ok(tfrepro("explain", "2.16", "2.21", "--no-ablation", "--json", "--store", store,
                      *script, cwd=corpus, cache=env_cache))  # fmt: skip
    probed = json.loads(done.stdout)["probed"]
    assert probed["model"] == differ[0]
    fits = a["script"]["data"]
    first = next(i for i, f in enumerate(fits, 1) if models_a[f["model"]]["name"] == differ[0])
    assert probed["fit"] == first


def test_a_frozen_batchnorm_in_a_nested_base_is_named_between_1_15_and_2_0(
    corpus: Path, env_cache: Path
) -> None:
    """keras#13892 in the corpus' words (40): 1.x normalises a frozen BatchNormalization with
    the batch's statistics in fit (training mode), 2.0 runs it in inference mode."""
    store = corpus / "store"
    done = ok(tfrepro("explain", "1.15", "2.0", "--fit", "2", "--no-ablation", "--json",
                      "--store", store, "--", "python", "40_frozen_bn_upgrade.py",
                      cwd=corpus, cache=env_cache))  # fmt: skip
    r = json.loads(done.stdout)
    stages = r["stages"]
    measured = [s for s, v in stages.items() if v.get("measured", True)]
    assert set(measured) >= {"forward", "train_forward", "loss", "gradient", "optimizer"}
    items = {i["name"]: i for i in stages["train_forward"]["items"]}
    assert items["base/conv2d"]["bitwise"]  # A's weights and batch: the same convolution
    assert stages["train_forward"]["where"] == "base/batch_normalization"
    assert items["base/batch_normalization"]["max_abs"] > 0.1  # batch vs moving statistics
    assert items["base/batch_normalization"]["max_abs"] > 1e4 * stages["forward"]["max_abs"]
    # named as where the gap is made, with the 2.0.0 note, whatever stage diverged first
    gap = r["first_divergence"]["training_mode"]
    assert (gap["stage"], gap["layer"]) == ("train_forward", "base/batch_normalization")
    causes = [c["cause"] for c in r["causes"]]
    assert any(c.startswith("base/batch_normalization acts differently while training")
               for c in causes)  # fmt: skip
    assert any("(BatchNormalization)" in c for c in causes)
    assert not any("GRU" in n["text"] for n in r["release_notes"])  # no GRU in this model


def test_accuracy_of_sigmoid_outputs_is_named_as_the_metrics_definition(
    corpus: Path, env_cache: Path
) -> None:
    """tensorflow#41114's own pair: on 2.1 "accuracy" is binary accuracy, on 2.2 categorical."""
    store = corpus / "store"
    done = ok(tfrepro("explain", "2.1", "2.2", "--no-ablation", "--json", "--store", store,
                      "--", "python", "15_multilabel_accuracy.py",
                      cwd=corpus, cache=env_cache))  # fmt: skip
    r = json.loads(done.stdout)
    assert (r["cells"]["A"]["tf"][:4], r["cells"]["B"]["tf"][:4]) == ("2.1.", "2.2.")
    changed = {c["key"]: (c["a"], c["b"]) for c in r["stages"]["config"]["changed"]}
    assert changed["metrics.accuracy"] == ("binary_accuracy", "categorical_accuracy")
    causes = [c["cause"] for c in r["causes"]]
    assert causes[0].startswith("the compiled metric 'accuracy' computes binary_accuracy")
    assert any("(compile metrics)" in c for c in causes)  # the 2.2.0 note
