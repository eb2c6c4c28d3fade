"""A small real store for the report tests: three releases by four seeds recorded through
Store.record, with real npz artifacts (predictions, and the dataset the labels come from),
package locks and fingerprints, one failed cell, and a hostile string wherever a user can put
text: the experiment name, a spec parameter, environment variable values (a matrix variable,
and a TF_* variable recorded in one release's fingerprint), a failure reason and traceback.

2.15.1 and 2.16.2 train bitwise identically (same losses, same final weights); 2.17.1 is
clearly better on accuracy, so the analysis has a `bitwise-identical` and a `different` to give.

`explanation()` is a `tfrepro explain` result shaped like ExplainResult.as_dict(), with an infinite
difference (a shape change), a failed ablation, hostile text and a `javascript:` release-note
source; `build(..., explained=True)` stores it with Store.put_explanation.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from tfrepro.runner.tfrepro_guest.platform.hashing import data_sha256
from tfrepro.store import Store

HOSTILE = "<script>alert(1)</script>"
HOSTILE_GROUP = f"tf=2.15,X={HOSTILE}"  # an env-var group label, as typed after `explain`
RELEASES = ("2.15.1", "2.16.2", "2.17.1")
SEEDS = (0, 1, 2, 3)
N_TEST, N_CLASSES, STEPS = 60, 5, 40
KERAS = {"2.15.1": "2.15.0", "2.16.2": "3.4.1", "2.17.1": "3.5.0"}


def _sha(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _npz(store: Store, tmp: Path, name: str, **arrays: np.ndarray) -> str:
    path = tmp / f"{name}.npz"
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return store.put_artifact(path)


def build(root: Path, *, explained: bool = False) -> Path:
    """Write the store under `root`/store and return its folder."""
    folder = root / "store"
    scratch = root / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    data = {
        "x_train": rng.normal(size=(100, 4)).astype(np.float32),
        "y_train": rng.integers(0, N_CLASSES, 100).astype(np.int64),
        "x_test": rng.normal(size=(N_TEST, 4)).astype(np.float32),
        "y_test": np.arange(N_TEST, dtype=np.int64) % N_CLASSES,
    }
    store = Store(folder)
    try:
        _npz(store, scratch, "data", **data)
        spec = {
            "name": HOSTILE,
            "params": {"note": HOSTILE},
            "matrix": {"tf": list(RELEASES), "env": {"TFREPRO_NOTE": [HOSTILE]}},
        }
        run = store.begin_run(HOSTILE, "tfrepro run exp.toml", spec)
        for tf in RELEASES:
            env = f"tf{tf}-py3.11-era-test"
            store.put_env(
                env,
                {"tensorflow": tf},
                [
                    "absl-py==2.1.0",
                    f"keras=={KERAS[tf]}",
                    "numpy==1.26.4",
                    f"tensorflow=={tf}",
                    *(["ml-dtypes==0.3.2"] if tf == "2.15.1" else ["ml-dtypes==0.4.0"]),
                ],
                {},
            )
            for seed in SEEDS:
                _record(store, scratch, run, tf, env, seed, data)
        store.end_run(run)
        if explained:
            store.put_explanation(explanation())
    finally:
        store.close()
    return folder


def _record(
    store: Store, scratch: Path, run: int, tf: str, env: str, seed: int, data: dict[str, np.ndarray]
) -> None:
    # 2.15.1 and 2.16.2 share everything that comes out of training
    twin = "2.15.1" if tf in ("2.15.1", "2.16.2") else tf
    rng = np.random.default_rng([seed, 0 if twin == "2.15.1" else 1])
    better = 0.0 if twin == "2.15.1" else 0.08
    accuracy = 0.80 + better + 0.01 * rng.normal()
    steps = np.exp(-np.arange(STEPS) / (15 - 50 * better)) * 2 + 0.02 * rng.random(STEPS)
    truth = data["y_test"]
    predicted = np.where(rng.random(N_TEST) < accuracy, truth, (truth + 1) % N_CLASSES)
    predictions = np.eye(N_CLASSES, dtype=np.float32)[predicted]
    failed = tf == "2.17.1" and seed == 3
    row: dict[str, Any] = {
        "cell_id": _sha(tf, seed),
        "run_id": run,
        "experiment": "exp-test",
        "tf_version": tf,
        "python_version": "3.11.7",
        "keras_version": KERAS[tf],
        "numpy_version": "1.26.4",
        "keras_pin": None,
        "seed": seed,
        "knobs": {"onednn": "default", "threads": 1, "determinism": True},
        "env_vars": [["TFREPRO_NOTE", HOSTILE]],
        "env_name": env,
        "status": "failed" if failed else "ok",
        "reason": f"ValueError: bad layer {HOSTILE}" if failed else "",
        "traceback": (
            f'Traceback (most recent call last):\n  File "model.py", line 3\n'
            f"ValueError: bad layer {HOSTILE}\n"
        )
        if failed
        else None,
        "data_sha256": data_sha256(data),
        "init_weights_sha256": _sha("init", seed),
        "final_weights_sha256": None if failed else _sha("final", twin, seed),
        "metrics": {} if failed else {"accuracy": float(accuracy), "loss": float(steps[-1])},
        "epoch_metrics": [],
        "timings": {"total": 1.0},
        "fingerprint": {
            "tensorflow": tf,
            "cpu": {"model": "Test CPU"},
            "onednn_enabled": tf != "2.15.1",
            "tf_env": {"TF_NOTE": HOSTILE} if tf == "2.16.2" else {},
        },
        "knobs_applied": {"determinism": "enable_op_determinism"},
        "optimizer_class": "keras.optimizers.Adam",
        "arrays": None,
        "peak_memory_mb": 100.0,
        "wall_seconds": 1.0,
    }
    if not failed:
        row["arrays"] = _npz(store, scratch, f"{tf}-{seed}", predictions=predictions)
    store.record(row, [] if failed else [float(x) for x in steps])


def _stage(diverged: bool, max_abs: float, where: str | None = None, **extra: Any) -> dict:
    return {
        "diverged": diverged,
        "bitwise": max_abs == 0,
        "max_abs": max_abs,
        "tolerance": 0.0,
        "where": where,
        "items": [],
        **extra,
    }


def explanation(a: str = "2.16", b: str = HOSTILE_GROUP, seed: int = 0) -> dict[str, Any]:
    """B's `dense_1` output has another shape than A's: the forward stage differs by inf."""
    knobs = {"onednn": "default", "threads": 1, "determinism": True, "xla": "default"}
    cell = {
        "tf": "2.15.1",
        "keras": "2.15.0",
        "python": "3.11.7",
        "numpy": "1.26.4",
        "knobs": knobs,
        "onednn": False,
        "optimizer": "Adam",
        "keras_module": "keras.api._v2.keras",
    }
    closes = {
        "knob": "onednn",
        "value": "off",
        "status": "ok",
        "first_after_transplant": "none",
        "closes": True,
        "gap_before": float("inf"),
        "gap_after": 0.0,
        "shrinks": True,
    }
    note = {
        "release": "2.16.0",
        "stages": ["forward"],
        "component": "Keras 3",
        "text": "Keras 3 becomes the default tf.keras.",
        "source": "https://github.com/tensorflow/tensorflow/releases/tag/v2.16.1",
    }
    return {
        "a": a,
        "b": b,
        "seed": seed,
        "cells": {
            "B": cell,
            "A": {
                **cell,
                "tf": "2.16.2",
                "keras": "3.4.1",
                "onednn": True,
                "keras_module": "keras",
                "knobs": {**knobs, "threads": 0},
            },
        },
        "first_divergence": {"stage": "forward", "layer": "dense_1"},
        "first_after_transplant": "forward",
        "tolerances": {"init": 0.0, "forward": 0.0, "loss": 0.0},
        "stages": {
            "data": _stage(False, 0.0),
            "init": _stage(False, 0.0),
            "config": _stage(False, 0.0, changed=[], only_a=["optimizer.config.decay"], only_b=[]),
            "forward": _stage(
                True,
                float("inf"),
                "dense_1",
                max_ulp=None,
                items=[
                    {
                        "name": "dense",
                        "bitwise": False,
                        "max_abs": 6e-8,
                        "max_rel": 1e-7,
                        "max_ulp": 2.0,
                    },
                    {
                        "name": "dense_1",
                        "bitwise": False,
                        "max_abs": float("inf"),
                        "max_rel": float("inf"),
                        "max_ulp": None,
                        "shape_a": [4, 5],
                        "shape_b": [4, 6],
                    },
                ],
            ),
            "loss": _stage(True, 0.25, "loss", a=1.0, b=1.25),
            "gradient": _stage(True, 3.5e-3, "dense_1/kernel:0"),
            "optimizer": _stage(True, 2.0e-6, "dense_1/kernel:0", class_a="Adam", class_b="Adam"),
            "trajectory": _stage(
                True, 0.5, "step 0", first_step=0, gaps=[0.1, 0.5], growth_per_step=5.0
            ),
        },
        "ablations": [
            closes,
            {
                **closes,
                "knob": "threads",
                "value": 0,
                "side": "both",
                "first_after_transplant": "forward",
                "closes": False,
                "gap_after": 1e-7,
            },
            {
                "knob": "xla",
                "value": "on",
                "status": "failed",
                "reason": f"probe B xla=on failed: {HOSTILE}",
            },
        ],
        "causes": [
            {
                "cause": "knob onednn: setting onednn=off in B makes the forward stage equal",
                "stage": "forward",
                "evidence": closes,
            },
            {"cause": f"layer renamed {HOSTILE}", "stage": "forward", "evidence": {}},
            {
                "cause": "release note 2.16.0 (Keras 3): Keras 3 becomes the default tf.keras.",
                "stage": "forward",
                "evidence": note,
            },
        ],
        "release_notes": [
            note,
            {
                **note,
                "release": "2.16.1",
                "text": "A note with a bad link.",
                "source": "javascript:alert(1)",
            },
        ],
        "seconds": 61.5,
        "probes": 7,
        "probe_timings": [{"probe": "A", "wall": 8.0}],
    }
