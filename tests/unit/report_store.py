"""A small real store for the report tests: three releases by four seeds recorded through
Store.record, with real npz artifacts (predictions, and the dataset the labels come from),
package locks and fingerprints, one failed cell, and a hostile string wherever a user can put
text: the experiment name, a spec parameter, environment variable values (a matrix variable,
and a TF_* variable recorded in one release's fingerprint), a failure reason and traceback.

2.15.1 and 2.16.2 train bitwise identically (same losses, same final weights); 2.17.1 is
clearly better on accuracy, so the analysis has a `bitwise-identical` and a `different` to give.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from tfrepro.runner.tfrepro_guest.hashing import data_sha256
from tfrepro.store import Store

HOSTILE = "<script>alert(1)</script>"
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


def build(root: Path) -> Path:
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
        spec = {"name": HOSTILE, "params": {"note": HOSTILE},
                "matrix": {"tf": list(RELEASES), "env": {"TFREPRO_NOTE": [HOSTILE]}}}
        run = store.begin_run(HOSTILE, "tfrepro run exp.toml", spec)
        for tf in RELEASES:
            env = f"tf{tf}-py3.11-era-test"
            store.put_env(env, {"tensorflow": tf}, [
                "absl-py==2.1.0", f"keras=={KERAS[tf]}", "numpy==1.26.4", f"tensorflow=={tf}",
                *(["ml-dtypes==0.3.2"] if tf == "2.15.1" else ["ml-dtypes==0.4.0"]),
            ], {})
            for seed in SEEDS:
                _record(store, scratch, run, tf, env, seed, data)
        store.end_run(run)
    finally:
        store.close()
    return folder


def _record(store: Store, scratch: Path, run: int, tf: str, env: str, seed: int,
            data: dict[str, np.ndarray]) -> None:
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
        "cell_id": _sha(tf, seed), "run_id": run, "experiment": "exp-test",
        "tf_version": tf, "python_version": "3.11.7", "keras_version": KERAS[tf],
        "numpy_version": "1.26.4", "keras_pin": None, "seed": seed,
        "knobs": {"onednn": "default", "threads": 1, "determinism": True},
        "env_vars": [["TFREPRO_NOTE", HOSTILE]],
        "env_name": env, "status": "failed" if failed else "ok",
        "reason": f"ValueError: bad layer {HOSTILE}" if failed else "",
        "traceback": (f'Traceback (most recent call last):\n  File "model.py", line 3\n'
                      f"ValueError: bad layer {HOSTILE}\n") if failed else None,
        "data_sha256": data_sha256(data),
        "init_weights_sha256": _sha("init", seed),
        "final_weights_sha256": None if failed else _sha("final", twin, seed),
        "metrics": {} if failed else {"accuracy": float(accuracy), "loss": float(steps[-1])},
        "epoch_metrics": [], "timings": {"total": 1.0},
        "fingerprint": {"tensorflow": tf, "cpu": {"model": "Test CPU"},
                        "onednn_enabled": tf != "2.15.1",
                        "tf_env": {"TF_NOTE": HOSTILE} if tf == "2.16.2" else {}},
        "knobs_applied": {"determinism": "enable_op_determinism"},
        "optimizer_class": "keras.optimizers.Adam", "arrays": None,
        "peak_memory_mb": 100.0, "wall_seconds": 1.0,
    }
    if not failed:
        row["arrays"] = _npz(store, scratch, f"{tf}-{seed}", predictions=predictions)
    store.record(row, [] if failed else [float(x) for x in steps])
