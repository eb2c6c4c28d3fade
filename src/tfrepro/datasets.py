"""Datasets prepared on the host, so that every cell receives the very same bytes.

Built-in datasets come from scikit-learn's bundled copies (nothing is downloaded);
features are standardised with training-split statistics and stored as float32.
The per-epoch batch order is also computed here, from the cell's seed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import tfrepro
from tfrepro import files
from tfrepro.errors import FileWriteError, SpecError
from tfrepro.runner.tfrepro_guest.platform.hashing import DATA_KEYS, data_sha256
from tfrepro.spec import DataSpec

_PREPARATION = 1  # bump when the preparation below changes: cached datasets are then remade
_SKLEARN = {
    "digits": "load_digits",
    "breast_cancer": "load_breast_cancer",
    "wine": "load_wine",
    "iris": "load_iris",
}


@dataclass(frozen=True)
class Prepared:
    arrays: dict[str, np.ndarray]
    sha256: str
    task: str  # "classification" or "regression"
    n_classes: int

    @property
    def n_train(self) -> int:
        return int(self.arrays["x_train"].shape[0])


def prepare(spec: DataSpec, path: Path | None = None, *, cache: Path | None = None) -> Prepared:
    """The arrays every cell receives: a user .npz (`path`) or a built-in dataset; built-in
    ones are kept under `cache`/datasets, keyed by the data spec and the scikit-learn and
    numpy versions, so that later commands skip importing scikit-learn (~2 s)."""
    if path is not None:
        arrays = _from_npz(path)
    else:
        try:
            arrays = _cached(spec, cache) if cache is not None else _builtin(spec)
        except ValueError as exc:
            # scikit-learn refuses impossible settings (too many classes for the features,
            # a test split smaller than the number of classes, ...)
            raise SpecError(
                f"data: cannot make dataset '{spec.name}' with these settings: {exc}; adjust "
                f"data.test_fraction, data.n_samples, data.n_features or data.n_classes"
            ) from None
    y = arrays["y_train"]
    classification = np.issubdtype(y.dtype, np.integer)
    n_classes = int(max(y.max(), arrays["y_test"].max()) + 1) if classification else 0
    return Prepared(
        arrays, data_sha256(arrays), "classification" if classification else "regression", n_classes
    )


def _cached(spec: DataSpec, cache: Path) -> dict[str, np.ndarray]:
    from importlib.metadata import version

    key = json.dumps(
        [
            _PREPARATION,
            tfrepro.__version__,
            spec.model_dump(mode="json"),
            version("scikit-learn"),
            np.__version__,
        ],
        sort_keys=True,
    )
    path = cache / "datasets" / f"{spec.name}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.npz"
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: np.asarray(z[k]) for k in DATA_KEYS}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        pass  # not there yet, or unreadable: prepare it again
    arrays = _builtin(spec)
    with contextlib.suppress(FileWriteError):  # a cache that cannot be written only costs time
        files.write_with(path, lambda f: np.savez(f, **arrays))  # type: ignore[arg-type]
    return arrays


def _builtin(spec: DataSpec) -> dict[str, np.ndarray]:
    if spec.name == "synthetic":
        from sklearn.datasets import make_classification

        x, y = make_classification(
            n_samples=spec.n_samples,
            n_features=spec.n_features,
            n_informative=max(2, spec.n_features // 2),
            n_redundant=0,
            n_classes=spec.n_classes,
            random_state=spec.data_seed,
        )
        return _split(x, y, spec)
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, _SKLEARN[spec.name])()
    return _split(bunch.data, bunch.target, spec)


def _split(x: np.ndarray, y: np.ndarray, spec: DataSpec) -> dict[str, np.ndarray]:
    from sklearn.model_selection import train_test_split

    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=spec.test_fraction, random_state=spec.data_seed, stratify=y
    )
    mean, std = x_tr.mean(axis=0), x_tr.std(axis=0)
    std[std == 0] = 1.0
    return {
        "x_train": ((x_tr - mean) / std).astype(np.float32),
        "y_train": y_tr.astype(np.int32),
        "x_test": ((x_te - mean) / std).astype(np.float32),
        "y_test": y_te.astype(np.int32),
    }


def _from_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in DATA_KEYS if k not in npz.files]
            if missing:
                raise SpecError(
                    f"data.name: '{path}' lacks arrays {', '.join(missing)}; an .npz dataset needs "
                    f"x_train, y_train, x_test and y_test"
                )
            arrays = {k: np.asarray(npz[k]) for k in DATA_KEYS}
    except (OSError, ValueError, EOFError) as exc:
        if not zipfile.is_zipfile(path):
            # numpy reads a file that is not a zip archive as a pickle, and says so
            raise SpecError(
                f"data.name: '{path}' is not an .npz archive; write one with numpy.savez(path, "
                f"x_train=..., y_train=..., x_test=..., y_test=...)"
            ) from None
        if "pickle" in str(exc):
            raise SpecError(
                f"data.name: cannot read '{path}': it holds object (pickled) arrays, which "
                f"tfrepro never loads; save numeric arrays"
            ) from None
        raise SpecError(f"data.name: cannot read '{path}' as .npz: {exc}") from None
    if len(arrays["x_train"]) != len(arrays["y_train"]) or len(arrays["x_test"]) != len(
        arrays["y_test"]
    ):
        raise SpecError(f"data.name: '{path}': x and y of a split have different lengths")
    for k in ("x_train", "x_test"):
        if len(arrays[k]) == 0:
            raise SpecError(f"data.name: '{path}': {k} is empty; both splits need examples")
    for k in ("x_train", "x_test"):
        arrays[k] = arrays[k].astype(np.float32)
    return arrays


def batch_order(n: int, epochs: int, seed: int, shuffle: str) -> np.ndarray:
    """(epochs, n) int32: the example order of every epoch, identical for every release."""
    if shuffle != "host":
        return np.tile(np.arange(n, dtype=np.int32), (epochs, 1))
    rng = np.random.default_rng([seed, 0x7F4A])
    return np.stack([rng.permutation(n).astype(np.int32) for _ in range(epochs)])
