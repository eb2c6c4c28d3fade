"""The one record of a cell result: its statuses, what a run writes, what a reader gets back.

`CellResult` is what `tasks.run` builds from a finished cell and `Store.record` writes (one row
of the `results` table: its columns are this type's fields, in this order). `CellRecord` is
what `Store.cells` reads back: the `tfrepro cells --json` contract that analysis, the report
and the baseline consume. `BASELINE_FIELDS` is the part of it a baseline keeps.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from typing import Any, NotRequired, Required, TypedDict


class Status(enum.StrEnum):
    """How a cell ended. A failed cell is a result, not an error."""

    OK = "ok"
    FAILED = "failed"  # the runner raised, crashed by a signal, or its environment did not build
    TIMEOUT = "timeout"  # killed after the cell timeout
    DIVERGED = "diverged"  # a NaN or infinite loss stopped training


# Resume skips these; `--retry-failed` runs FAILED and TIMEOUT again, `--rerun` everything.
FINISHED: tuple[Status, ...] = (Status.OK, Status.DIVERGED, Status.FAILED, Status.TIMEOUT)
SETTLED: tuple[Status, ...] = (Status.OK, Status.DIVERGED)


class CellResult(TypedDict, total=False):
    """One finished attempt of a cell, as written (JSON_FIELDS are stored as JSON text)."""

    cell_id: Required[str]
    run_id: Required[int]
    experiment: Required[str]
    tf_version: Required[str]
    python_version: Required[str]
    keras_version: str | None
    numpy_version: str | None
    keras_pin: str | None
    seed: Required[int]
    knobs: Required[dict[str, Any]]
    env_vars: Required[list[Any]]  # [[name, value], …] in axis order
    env_name: Required[str]
    status: Required[str]  # a Status value
    reason: str | None
    traceback: str | None
    data_sha256: str | None
    init_weights_sha256: str | None
    final_weights_sha256: str | None
    metrics: dict[str, float] | None
    epoch_metrics: list[dict[str, Any]] | None
    timings: dict[str, float] | None
    fingerprint: dict[str, Any]
    knobs_applied: dict[str, Any] | None
    optimizer_class: str | None
    logs: dict[str, Any] | None
    arrays: str | None  # sha256 of the arrays artifact
    peak_memory_mb: float | None
    wall_seconds: float | None
    script: dict[str, Any] | None  # script cells only: what the script did (README, script mode)
    worker: dict[str, Any] | None  # how it ran: {"mode": "warm" | "fresh", …} (execute/workers)


RESULT_FIELDS: tuple[str, ...] = tuple(CellResult.__annotations__)
JSON_FIELDS = frozenset(
    {
        "knobs",
        "env_vars",
        "metrics",
        "epoch_metrics",
        "timings",
        "fingerprint",
        "knobs_applied",
        "logs",
        "script",
        "worker",
    }
)


class CellRecord(TypedDict):
    """One attempt of a cell as read back (`tfrepro cells --json`, one object per cell)."""

    id: str
    attempt: int
    run_id: int
    experiment: str
    tf_version: str
    keras_version: str | None
    numpy_version: str | None
    python_version: str
    keras_pin: str | None
    seed: int
    knobs: dict[str, Any]
    env_vars: dict[str, str]
    status: str
    reason: str | None
    traceback: str | None
    data_sha256: str | None
    init_weights_sha256: str | None
    final_weights_sha256: str | None
    metrics: dict[str, float]
    epoch_metrics: list[dict[str, Any]]
    timings: dict[str, float]
    knobs_applied: dict[str, Any]
    optimizer_class: str | None
    logs: dict[str, Any]
    peak_memory_mb: float | None
    wall_seconds: float | None
    arrays: str | None  # path of the arrays file (.npz)
    fingerprint: dict[str, Any]  # with `packages` (the env's lock) and `environment` (its name)
    script: dict[str, Any] | None  # None for model cells
    worker: dict[str, Any] | None  # {"mode": "warm" | "fresh", …}; None before tfrepro recorded it
    finished: str
    loss: NotRequired[list[float | None]]  # per step, NaN as None (Store.cells(with_loss=True))


# The fields of a CellRecord a store row gives (`loss` comes from the steps table).
RECORD_FIELDS: tuple[str, ...] = tuple(k for k in CellRecord.__annotations__ if k != "loss")

# What a baseline keeps of each ok cell (analysis/baseline.py): what defines it and what it gave.
BASELINE_FIELDS: tuple[str, ...] = (
    "id",
    "experiment",
    "seed",
    "tf_version",
    "keras_version",
    "python_version",
    "numpy_version",
    "keras_pin",
    "knobs",
    "env_vars",
    "data_sha256",
    "init_weights_sha256",
    "final_weights_sha256",
    "metrics",
)
assert set(BASELINE_FIELDS) <= set(CellRecord.__annotations__)


def trained_models(cell: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Keras models a script cell trained, in order of their first fit (name, class,
    init_sha256, final_sha256); [] for model cells and scripts without a Keras fit."""
    return list((cell.get("script") or {}).get("models") or [])


def final_weights_id(cell: Mapping[str, Any]) -> str | None:
    """What "the same final weights" means for a cell: the hash of its model's final weights,
    or — a script that trained several models (a GAN after two warm-ups, a toy model then the
    real one) — one hash over every model's, so that two cells are the same only when every
    model they trained is. None when a model's final weights are unknown."""
    models = trained_models(cell)
    if len(models) <= 1:
        return cell.get("final_weights_sha256")
    hashes = [str(m.get("final_sha256") or "") for m in models]
    if not all(hashes):
        return None
    return hashlib.sha256(" ".join(hashes).encode()).hexdigest()


def models_that_differ(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """Names of the models whose final weights differ between two script cells (by position:
    the n-th model trained in each); [] when neither trained several models."""
    ma, mb = trained_models(a), trained_models(b)
    if max(len(ma), len(mb)) <= 1:
        return []
    out = []
    for i in range(max(len(ma), len(mb))):
        x = ma[i] if i < len(ma) else {}
        y = mb[i] if i < len(mb) else {}
        if not x.get("final_sha256") or x.get("final_sha256") != y.get("final_sha256"):
            out.append(str(x.get("name") or y.get("name") or f"model {i + 1}"))
    return out
