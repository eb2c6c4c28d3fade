"""Real environments, real training: TF 1.15 (Python 3.7), a Keras 2 era 2.x and Keras 3."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from .helpers import cells, ok, tfrepro

pytestmark = pytest.mark.integration

RELEASES = "1.15,2.15,2.21"


RUN = ("run", "--tf", RELEASES, "--seeds", "0,1", "--epochs", "2", "--jobs", "2")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, env_cache: Path) -> Path:
    work = tmp_path_factory.mktemp("cross")
    store = work / "store"
    ok(tfrepro(*RUN, "--store", store, cwd=work, cache=env_cache))
    # the A/A rerun: same cells, second attempt
    ok(tfrepro(*RUN, "--store", store, "--rerun", cwd=work, cache=env_cache))
    return store


def test_every_cell_trains_and_records_the_contract(store: Path, env_cache: Path) -> None:
    recorded = cells(store, store.parent, env_cache)
    assert len(recorded) == 6
    assert {c["status"] for c in recorded} == {"ok"}
    n_train = 1347  # digits, 25 % test split
    steps = 2 * math.ceil(n_train / 64)
    for c in recorded:
        assert len(c["loss"]) == steps
        assert all(math.isfinite(x) for x in c["loss"])
        assert c["loss"][-1] < c["loss"][0]  # it learned something
        assert 0.5 < c["metrics"]["accuracy"] <= 1.0
        assert set(c["timings"]) >= {"import", "build", "fit", "evaluate", "total"}
        assert c["fingerprint"]["packages"], "the env's package lock is recorded"
        with np.load(c["arrays"]) as arrays:
            assert arrays["predictions"].shape == (450, 10)
            assert "init_0" in arrays and "final_0" in arrays
    # the host owns the data: every release received the very same bytes
    assert len({c["data_sha256"] for c in recorded}) == 1


def test_fingerprints_show_each_releases_stack(store: Path, env_cache: Path) -> None:
    by_tf = {c["tf_version"]: c for c in cells(store, store.parent, env_cache)}
    assert set(by_tf) == {"1.15.5", "2.15.1", "2.21.0"}
    assert by_tf["1.15.5"]["python_version"].startswith("3.7.")
    assert by_tf["1.15.5"]["keras_version"] == "2.2.4-tf"
    assert by_tf["2.15.1"]["keras_version"].startswith("2.15")
    assert by_tf["2.21.0"]["keras_version"].startswith("3.")
    # era resolution: numpy of each release's time
    assert by_tf["1.15.5"]["numpy_version"].startswith("1.")
    assert by_tf["2.15.1"]["numpy_version"].startswith("1.26")
    assert by_tf["1.15.5"]["fingerprint"]["tensorflow"] == "1.15.5"


def test_rerun_is_bitwise_identical(store: Path, env_cache: Path) -> None:
    attempts = cells(store, store.parent, env_cache, all_attempts=True)
    assert len(attempts) == 12
    by_cell: dict[str, list[dict]] = {}
    for c in attempts:
        by_cell.setdefault(c["id"], []).append(c)
    for runs in by_cell.values():
        assert sorted(r["attempt"] for r in runs) == [1, 2]
        first, second = runs
        assert first["final_weights_sha256"] == second["final_weights_sha256"]
        assert first["init_weights_sha256"] == second["init_weights_sha256"]
        assert first["loss"] == second["loss"]


def test_seeds_differ_within_a_release(store: Path, env_cache: Path) -> None:
    latest = cells(store, store.parent, env_cache)
    for tf in ("1.15.5", "2.15.1", "2.21.0"):
        hashes = {c["init_weights_sha256"] for c in latest if c["tf_version"] == tf}
        assert len(hashes) == 2, f"seeds 0 and 1 should start from different weights on {tf}"


def test_resume_skips_finished_cells(store: Path, env_cache: Path) -> None:
    done = ok(tfrepro(*RUN, "--store", store, cwd=store.parent, cache=env_cache))
    assert "6 already in the store" in done.stdout
    assert len(cells(store, store.parent, env_cache, all_attempts=True)) == 12
