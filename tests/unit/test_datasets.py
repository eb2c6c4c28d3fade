"""tfrepro.datasets: the same bytes every time, and the per-epoch batch order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tfrepro import datasets
from tfrepro.errors import SpecError
from tfrepro.runner.tfrepro_guest.platform.hashing import data_sha256
from tfrepro.spec import DataSpec

KEYS = ("x_train", "y_train", "x_test", "y_test")


def raw_bytes(p: datasets.Prepared) -> bytes:
    return b"".join(p.arrays[k].tobytes() for k in KEYS)


@pytest.mark.parametrize("name", ["digits", "iris", "wine", "breast_cancer", "synthetic"])
def test_builtin_datasets_are_identical_bytes_every_time(name: str) -> None:
    a = datasets.prepare(DataSpec(name=name))
    b = datasets.prepare(DataSpec(name=name))
    assert raw_bytes(a) == raw_bytes(b)
    assert a.sha256 == b.sha256 == data_sha256(a.arrays)
    assert a.arrays["x_train"].dtype == np.float32 and a.arrays["y_train"].dtype == np.int32
    assert a.task == "classification"


def test_builtin_datasets_are_kept_in_the_cache_and_read_back(tmp_path: Path) -> None:
    spec = DataSpec(name="iris", test_fraction=0.2)
    fresh = datasets.prepare(spec)
    first = datasets.prepare(spec, cache=tmp_path)
    (kept,) = (tmp_path / "datasets").glob("iris-*.npz")
    assert first.sha256 == fresh.sha256
    # the next command reads the kept file (shown by changing it) ...
    np.savez(kept, **{**fresh.arrays, "y_test": fresh.arrays["y_test"][::-1]})
    assert datasets.prepare(spec, cache=tmp_path).sha256 != fresh.sha256
    # ... other settings get their own file, and an unreadable one is made again
    datasets.prepare(DataSpec(name="iris", test_fraction=0.3), cache=tmp_path)
    assert len(list((tmp_path / "datasets").glob("iris-*.npz"))) == 2
    kept.write_bytes(b"not a zip file")
    assert datasets.prepare(spec, cache=tmp_path).sha256 == fresh.sha256
    assert not list((tmp_path / "datasets").glob(".*.tmp"))  # written atomically


def test_split_sizes_and_standardisation() -> None:
    p = datasets.prepare(DataSpec(name="iris", test_fraction=0.2))
    assert p.n_train == 120 and len(p.arrays["x_test"]) == 30
    assert p.n_classes == 3
    # standardised with training statistics: mean 0, std 1 on the training split
    np.testing.assert_allclose(p.arrays["x_train"].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(p.arrays["x_train"].std(axis=0), 1, atol=1e-4)
    # stratified: every class is in both splits
    assert set(p.arrays["y_test"].tolist()) == {0, 1, 2}


def test_settings_change_the_bytes() -> None:
    base = datasets.prepare(DataSpec(name="synthetic"))
    assert datasets.prepare(DataSpec(name="synthetic", data_seed=1)).sha256 != base.sha256
    assert datasets.prepare(DataSpec(name="synthetic", test_fraction=0.5)).sha256 != base.sha256
    assert (
        datasets.prepare(DataSpec(name="iris", data_seed=1)).sha256
        != datasets.prepare(DataSpec(name="iris")).sha256
    )
    s = datasets.prepare(DataSpec(name="synthetic", n_samples=200, n_features=6, n_classes=3))
    assert s.arrays["x_train"].shape == (150, 6) and s.n_classes == 3


@pytest.mark.parametrize(
    "settings",
    [
        {"name": "synthetic", "n_classes": 50, "n_features": 2},
        {"name": "synthetic", "n_samples": 11, "n_classes": 5},
        {"name": "iris", "test_fraction": 0.01},
        {"name": "iris", "test_fraction": 0.99},
    ],
)
def test_impossible_settings_are_a_spec_error(settings: dict[str, object]) -> None:
    with pytest.raises(SpecError) as info:
        datasets.prepare(DataSpec(**settings))  # type: ignore[arg-type]
    msg = str(info.value)
    assert msg.startswith("data: cannot make dataset") and "\n" not in msg


def save(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


def test_npz_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    path = save(
        tmp_path / "d.npz",
        x_train=rng.normal(size=(30, 4)),
        y_train=rng.integers(0, 3, 30),
        x_test=rng.normal(size=(10, 4)),
        y_test=rng.integers(0, 3, 10),
        extra=np.zeros(3),
    )
    a = datasets.prepare(DataSpec(name="d.npz"), path)
    b = datasets.prepare(DataSpec(name="d.npz"), path)
    assert a.sha256 == b.sha256
    assert set(a.arrays) == set(KEYS)
    assert a.arrays["x_train"].dtype == np.float32
    assert a.task == "classification" and a.n_classes == 3
    assert a.n_train == 30


def test_npz_with_float_targets_is_regression(tmp_path: Path) -> None:
    path = save(
        tmp_path / "r.npz",
        x_train=np.ones((5, 2)),
        y_train=np.linspace(0, 1, 5),
        x_test=np.ones((2, 2)),
        y_test=np.zeros(2),
    )
    p = datasets.prepare(DataSpec(name="r.npz"), path)
    assert p.task == "regression" and p.n_classes == 0


def test_npz_problems_are_spec_errors(tmp_path: Path) -> None:
    x, y = np.zeros((20, 3)), np.zeros(20, dtype=int)
    cases = {
        "noy.npz": ({"x_train": x, "y_train": y, "x_test": x[:5]}, "lacks arrays y_test"),
        "len.npz": (
            {"x_train": x, "y_train": y[:10], "x_test": x[:5], "y_test": y[:5]},
            "different lengths",
        ),
        "empty.npz": (
            {"x_train": x[:0], "y_train": y[:0], "x_test": x[:5], "y_test": y[:5]},
            "x_train is empty",
        ),
        "notest.npz": (
            {"x_train": x, "y_train": y, "x_test": x[:0], "y_test": y[:0]},
            "x_test is empty",
        ),
        "obj.npz": (
            {
                "x_train": np.array([None] * 20, dtype=object),
                "y_train": y,
                "x_test": x[:5],
                "y_test": y[:5],
            },
            "cannot read",
        ),
    }
    for name, (arrays, expected) in cases.items():
        path = save(tmp_path / name, **arrays)
        with pytest.raises(SpecError, match=expected) as info:
            datasets.prepare(DataSpec(name=name), path)
        assert str(info.value).startswith("data.name: ")
    text = tmp_path / "text.npz"
    text.write_text("not a zip file")
    with pytest.raises(SpecError, match=r"is not an \.npz archive; write one with numpy\.savez"):
        datasets.prepare(DataSpec(name="text.npz"), text)


def test_batch_order_is_a_permutation_per_epoch() -> None:
    order = datasets.batch_order(100, 5, seed=3, shuffle="host")
    assert order.shape == (5, 100) and order.dtype == np.int32
    for row in order:
        assert sorted(row.tolist()) == list(range(100))
    assert len({row.tobytes() for row in order}) == 5  # every epoch is shuffled differently


def test_batch_order_depends_only_on_the_seed() -> None:
    a = datasets.batch_order(50, 3, seed=1, shuffle="host")
    assert np.array_equal(a, datasets.batch_order(50, 3, seed=1, shuffle="host"))
    assert not np.array_equal(a, datasets.batch_order(50, 3, seed=2, shuffle="host"))
    # more epochs extend the order without changing the first ones
    assert np.array_equal(a, datasets.batch_order(50, 4, seed=1, shuffle="host")[:3])


def test_batch_order_without_host_shuffle_is_the_identity() -> None:
    order = datasets.batch_order(7, 2, seed=1, shuffle="none")
    assert order.tolist() == [list(range(7))] * 2


def test_a_cache_that_cannot_be_written_only_costs_the_speed_up(tmp_path: Path) -> None:
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder should be")
    spec = DataSpec(name="iris")
    assert datasets.prepare(spec, cache=blocked).sha256 == datasets.prepare(spec).sha256
