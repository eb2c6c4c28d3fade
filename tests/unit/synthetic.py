"""Made-up cells for the analysis tests: shaped like `Store.cells()` output or `Store.record` rows,
with metric values and hashes chosen by the test. No TensorFlow, no environments."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from tfrepro.store import Store

KNOBS = {"onednn": "default", "threads": 1, "determinism": True}


def sha(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def cell(
    tf: str,
    seed: int,
    accuracy: float,
    *,
    loss: float | None = None,
    weights: str | None = None,
    status: str = "ok",
    steps: Sequence[float] = (),
    knobs: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    attempt: int = 1,
    init: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One cell as Store.cells() returns it. Final weights default to a hash unique to
    (tf, seed, accuracy), so two cells share weights only when the test says so."""
    c: dict[str, Any] = {
        "id": sha("cell", tf, seed, sorted((knobs or KNOBS).items()), sorted((env or {}).items())),
        "attempt": attempt,
        "run_id": 1,
        "experiment": "exp",
        "tf_version": tf,
        "keras_version": f"keras-for-{tf}",
        "python_version": "3.11.7",
        "numpy_version": "1.26.4",
        "keras_pin": None,
        "seed": seed,
        "knobs": dict(knobs or KNOBS),
        "env_vars": dict(env or {}),
        "status": status,
        "reason": "" if status == "ok" else "boom",
        "data_sha256": "d" * 64,
        "init_weights_sha256": init or sha("init", seed),
        "final_weights_sha256": weights or sha("final", tf, seed, accuracy),
        "metrics": {"accuracy": accuracy, "loss": 1 - accuracy if loss is None else loss}
        if status == "ok"
        else {},
        "loss": list(steps),
        "arrays": None,
        "fingerprint": {"tensorflow": tf, "python": "3.11.7", "cpu": {"model": "test cpu"}},
    }
    c.update(extra)
    return c


def groups(values: dict[str, Sequence[float]], **kw: Any) -> list[dict[str, Any]]:
    """Cells with seeds 0..n-1 for every release: {"2.15.1": [acc of seed 0, seed 1, …]}."""
    return [cell(tf, s, float(v), **kw) for tf, vs in values.items() for s, v in enumerate(vs)]


def record(
    store: Store,
    tf: str,
    seed: int,
    accuracy: float,
    *,
    weights: str | None = None,
    status: str = "ok",
    losses: Sequence[float] = (0.9, 0.5),
    **extra: Any,
) -> None:
    """Insert one cell through Store.record, the way the workflow does."""
    spec = {"name": "exp", "margin": extra.pop("margin", None)}
    run = store.begin_run("exp", "tfrepro run", spec)
    row = {
        "cell_id": sha("cell", tf, seed),
        "run_id": run,
        "experiment": "exp",
        "tf_version": tf,
        "python_version": "3.11.7",
        "keras_version": "3.3.3",
        "numpy_version": "1.26.4",
        "keras_pin": None,
        "seed": seed,
        "knobs": dict(KNOBS),
        "env_vars": [],
        "env_name": f"tf{tf}-py3.11",
        "status": status,
        "reason": "" if status == "ok" else "boom",
        "traceback": None,
        "data_sha256": "d" * 64,
        "init_weights_sha256": sha("init", seed),
        "final_weights_sha256": weights or sha("final", tf, seed, accuracy),
        "metrics": {"accuracy": accuracy, "loss": 1 - accuracy} if status == "ok" else None,
        "epoch_metrics": [],
        "timings": {},
        "fingerprint": {"tensorflow": tf},
        "knobs_applied": {},
        "optimizer_class": "Adam",
        "arrays": None,
        "peak_memory_mb": 100.0,
        "wall_seconds": 1.0,
    }
    row.update(extra)
    store.record(row, list(losses))


def normal(rng: np.random.Generator, n: int, mean: float = 0.9, std: float = 0.01) -> list[float]:
    return [float(x) for x in rng.normal(mean, std, n)]
