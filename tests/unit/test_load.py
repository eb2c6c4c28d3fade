"""tfrepro.analysis.load: predictions and test labels come back from the store's artifacts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tfrepro.analysis import load
from tfrepro.analysis.compare import compare_cells
from tfrepro.errors import UsageError
from tfrepro.runner.tfrepro_guest.platform.hashing import data_sha256
from tfrepro.store import Store

from .synthetic import record


def _npz(store: Store, tmp: Path, name: str, **arrays: np.ndarray) -> str:
    path = tmp / f"{name}.npz"
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return store.put_artifact(path)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "store")
    rng = np.random.default_rng(0)
    data = {
        "x_train": rng.random((8, 2)),
        "y_train": np.arange(8) % 3,
        "x_test": rng.random((6, 2)),
        "y_test": np.array([0, 1, 2, 0, 1, 2]),
    }
    _npz(s, tmp_path, "data", **data)  # every run keeps its prepared data as an artifact
    predicted = {
        ("2.15.1", 0): [0, 1, 2, 0, 1, 2],
        ("2.15.1", 1): [0, 1, 2, 0, 1, 1],
        ("2.16.2", 0): [0, 1, 2, 0, 0, 2],
        ("2.16.2", 1): [0, 1, 2, 0, 1, 1],
    }
    for (tf, seed), classes in predicted.items():
        arrays = _npz(
            s, tmp_path, f"{tf}-{seed}", final_0=np.ones(2), predictions=np.eye(3)[classes]
        )
        record(s, tf, seed, 0.9 + seed / 100, arrays=arrays, data_sha256=data_sha256(data))
    record(s, "2.16.2", 7, 0.9, arrays="0" * 64)  # its file is gone: left out, not an error
    yield s
    s.close()


def test_predictions_and_labels_from_artifacts(store: Store) -> None:
    cells = store.cells()
    predictions = load.predictions(cells)
    assert len(predictions) == 4
    assert all(p.shape == (6, 3) for p in predictions.values())
    labels = load.labels(cells)
    (sha,) = labels
    assert labels[sha].tolist() == [0, 1, 2, 0, 1, 2]
    row = compare_cells(cells, metrics=["accuracy"], predictions=predictions, labels=labels)[0]
    assert row["churn"] == pytest.approx((1 / 6 + 0) / 2)
    assert row["churn_within_a"] == pytest.approx(1 / 6)
    assert {p["class"]: p["shift"] for p in row["per_class"]} == pytest.approx(
        {0: 0.0, 1: -0.25, 2: 0.0}
    )  # 2.16.2 seed 0 misses one of the two 1s


def test_predictions_of_several_attempts_are_keyed_by_attempt(store: Store) -> None:
    cells = store.cells(all_attempts=True)
    cells += [dict(c, attempt=2) for c in cells]
    keys = load.predictions(cells)
    assert len(keys) == 8 and all("/" in k for k in keys)


def test_spec_margin_is_the_newest_run_s(store: Store) -> None:
    assert load.spec_margin(store.runs(), store.cells()) is None
    record(store, "2.16.2", 9, 0.9, margin=0.01)
    assert load.spec_margin(store.runs(), store.cells()) == 0.01


def test_by_attempt_takes_only_the_rerun_cells(store: Store) -> None:
    with pytest.raises(UsageError, match="no cell was run more than once"):
        load.reruns(store.cells(all_attempts=True))
    assert load.reruns([]) == []  # an empty store: the task says so, not this
    record(store, "2.15.1", 1, 0.91)  # a rerun of one cell: a second attempt
    got = load.reruns(store.cells(all_attempts=True))
    assert sorted((c["tf_version"], c["seed"], c["attempt"]) for c in got) == [
        ("2.15.1", 1, 1),
        ("2.15.1", 1, 2),
    ]
    (row,) = compare_cells(got, by="attempt", metrics=["accuracy"])
    assert row["diff"] == pytest.approx(0.0)  # the other releases no longer blur the means
