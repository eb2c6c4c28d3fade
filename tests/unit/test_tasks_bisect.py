"""tasks.bisect without running anything: the probe spec, the candidate releases, and the search
over made-up cells (`_run_release` is replaced), seed escalation of the metric criterion
included."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tfrepro import spec as spec_mod
from tfrepro.analysis import attribution
from tfrepro.analysis.compare import compare_cells
from tfrepro.errors import UsageError
from tfrepro.spec import Spec
from tfrepro.tasks import bisect as bisect_mod
from tfrepro.tasks.bisect import BisectResult, bisect, candidates, probe_spec
from tfrepro.tasks.planning import Options

from .synthetic import cell, sha

# ---------------------------------------------------------------------------- probe_spec


def test_bitwise_probes_default_to_seed_zero() -> None:
    assert probe_spec(spec_mod.from_dict({}), "bitwise", None, 20).matrix.seeds == [0]


def test_metric_probes_default_to_five_seeds() -> None:
    base = spec_mod.from_dict({"matrix": {"seeds": [7]}})
    assert probe_spec(base, "metric", None, 20).matrix.seeds == [0, 1, 2, 3, 4]
    assert probe_spec(base, "metric", None, 5).matrix.seeds == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("criterion", ["bitwise", "metric"])
def test_given_seeds_are_kept(criterion: str, tmp_path: Path) -> None:
    base = spec_mod.from_dict({"matrix": {"tf": ["2.15"]}}, base_dir=tmp_path)
    probe = probe_spec(base, criterion, [3, 11], 20)
    assert probe.matrix.seeds == [3, 11]
    assert probe.matrix.tf == ["2.15"]
    assert probe.base_dir == tmp_path


@pytest.mark.parametrize(
    ("criterion", "seeds", "max_seeds", "count"),
    [("metric", None, 4, 5), ("bitwise", [1, 2, 3], 2, 3), ("bitwise", None, 0, 1)],
)
def test_max_seeds_below_the_seed_count_is_refused(
    criterion: str, seeds: list[int] | None, max_seeds: int, count: int
) -> None:
    with pytest.raises(UsageError, match=f"--max-seeds {max_seeds} is fewer than the {count}"):
        probe_spec(spec_mod.from_dict({}), criterion, seeds, max_seeds)


# ---------------------------------------------------------------------------- candidates


def test_candidates_list_every_release_between_good_first() -> None:
    assert candidates("2.9", "2.11") == ["2.9.3", "2.10.0", "2.10.1", "2.11.0", "2.11.1"]
    assert candidates("2.9.1", "2.10.0") == ["2.9.1", "2.9.2", "2.9.3", "2.10.0"]


def test_candidates_run_from_good_to_bad_when_good_is_newer() -> None:
    assert candidates("2.11", "2.9") == ["2.11.1", "2.11.0", "2.10.1", "2.10.0", "2.9.3"]


@pytest.mark.parametrize(("good", "bad"), [("2.9", "2.9.3"), ("2.15.1", "2.15.1")])
def test_candidates_of_one_release_are_refused(good: str, bad: str) -> None:
    with pytest.raises(UsageError, match="the same release"):
        candidates(good, bad)


@pytest.mark.parametrize(
    ("good", "bad", "option"), [("2.9..2.11", "2.15", "--good"), ("2.9", "2.11..2.15", "--bad")]
)
def test_candidates_of_a_range_are_refused(good: str, bad: str, option: str) -> None:
    with pytest.raises(UsageError, match=f"{option} .*not a range"):
        candidates(good, bad)


# ---------------------------------------------------------------------------- the search


class Quiet:
    """A reporter that reports nothing."""

    def planned(self, total: int, todo: int, envs: int) -> None: ...
    def env_started(self, env: object, cached: bool) -> None: ...
    def env_done(self, env: object, error: str | None) -> None: ...
    def cell_started(self, cell: object) -> None: ...
    def cell_done(self, cell: object, outcome: object) -> None: ...
    def cell_elsewhere(self, cell: object) -> None: ...


Maker = Callable[[str, int], dict[str, Any]]


class FakeRuns:
    """Stands in for `_run_release`: one made-up cell per (release, seed) the spec asks for, and a
    log of every call (release, seeds)."""

    def __init__(self, make: Maker) -> None:
        self.make = make
        self.calls: list[tuple[str, list[int]]] = []

    def __call__(
        self, base: Spec, version: str, opts: Options, reporter: object, axis: str = "tf"
    ) -> list[dict[str, Any]]:
        seeds = list(base.matrix.seeds)
        self.calls.append((version, seeds))
        return [self.make(version, s) for s in seeds]


def run_bisect(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    versions: Sequence[str],
    make: Maker,
    *,
    criterion: str,
    max_seeds: int = 20,
    seeds: list[int] | None = None,
) -> tuple[BisectResult, FakeRuns]:
    fake = FakeRuns(make)
    monkeypatch.setattr(bisect_mod, "_run_release", fake)
    base = probe_spec(spec_mod.from_dict({}), criterion, seeds, max_seeds)
    store = tmp_path / "st"
    result = bisect(
        base,
        list(versions),
        criterion=criterion,
        metric="accuracy" if criterion == "metric" else None,
        margin=None,
        opts=Options(store=store),
        reporter=Quiet(),
        max_seeds=max_seeds,
    )
    assert not store.exists()  # the fake runs stand in for every store access
    return result, fake


GOOD, SAME, SHIFTED = "2.10.0", "2.10.1", "2.11.0"
NOISE = 0.01
# With this generator, 5 seeds per release cannot tell a one-noise-floor shift (inconclusive)
# and 20 can (different): see test_five_seeds_cannot_tell_the_shift.
GENERATOR_SEED = 1


def noisy_metrics(max_seeds: int = 40) -> Maker:
    """SAME is GOOD bit for bit; SHIFTED's accuracy is GOOD's shifted by one noise std."""
    rng = np.random.default_rng(GENERATOR_SEED)
    noise = {GOOD: rng.normal(0, NOISE, max_seeds), SHIFTED: rng.normal(0, NOISE, max_seeds)}
    mean = {GOOD: 0.9, SHIFTED: 0.9 + NOISE}

    def make(version: str, seed: int) -> dict[str, Any]:
        source = GOOD if version == SAME else version
        accuracy = float(mean[source] + noise[source][seed])
        return cell(version, seed, accuracy, weights=sha("final", source, seed))

    return make


def test_five_seeds_cannot_tell_the_shift() -> None:
    """The premise of the escalation tests: inconclusive at 5 seeds, different at 20."""
    make = noisy_metrics()

    def verdict(n: int) -> str:
        cells = [make(v, s) for v in (GOOD, SHIFTED) for s in range(n)]
        (row,) = compare_cells(cells, metrics=["accuracy"])
        return row["verdict"]

    assert verdict(5) == "inconclusive"
    assert verdict(20) == "different"


def test_metric_probe_adds_seeds_until_compare_decides(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result, fake = run_bisect(
        monkeypatch, tmp_path, [GOOD, SAME, SHIFTED], noisy_metrics(), criterion="metric"
    )
    assert result.status == "found"
    assert (result.last_good, result.first_bad) == (SAME, SHIFTED)
    first, *later = fake.calls
    assert first == (GOOD, [0, 1, 2, 3, 4])
    assert fake.calls[1] == (SHIFTED, [0, 1, 2, 3, 4])
    # escalation: both releases again with more seeds, the earlier ones kept
    grown = [seeds for _, seeds in later if len(seeds) > 5]
    assert grown
    assert all(seeds[:5] == [0, 1, 2, 3, 4] and len(set(seeds)) == len(seeds) for seeds in grown)
    assert {v for v, seeds in later if len(seeds) > 5} == {GOOD, SHIFTED, SAME}
    assert max(len(seeds) for _, seeds in fake.calls) <= 20
    end, middle = result.probes
    assert end["release"] == SHIFTED
    assert end["verdict"] == "bad"
    assert end["compare_verdicts"] == {"accuracy": "different"}
    final = len(fake.calls[-1][1])
    assert end["seeds"] == final > 5
    # the next probe starts from the grown seed count
    assert fake.calls[-1][0] == SAME
    assert middle["release"] == SAME
    assert middle["verdict"] == "good"
    assert middle["seeds"] == final
    assert middle["compare_verdicts"] == {"accuracy": "bitwise-identical"}


def test_metric_probe_stops_at_max_seeds_and_says_inconclusive(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result, fake = run_bisect(
        monkeypatch,
        tmp_path,
        [GOOD, SAME, SHIFTED],
        noisy_metrics(),
        criterion="metric",
        max_seeds=6,
    )
    assert result.status == "inconclusive"
    assert result.first_bad is None
    assert result.last_good is None
    assert result.open_interval == [GOOD, SHIFTED]
    assert "release_notes" not in result.as_dict()
    assert max(len(seeds) for _, seeds in fake.calls) == 6
    assert [v for v, _ in fake.calls] == [GOOD, SHIFTED, GOOD, SHIFTED]
    (probe,) = result.probes
    assert probe["verdict"] == "inconclusive"
    assert probe["seeds"] == 6
    assert probe["seeds_needed"] > 6


def test_metric_probe_that_decides_at_once_adds_no_seeds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def make(version: str, seed: int) -> dict[str, Any]:
        shift = 0.0 if version == GOOD else 0.05  # five noise floors
        return cell(version, seed, 0.9 + shift + NOISE * (seed % 3 - 1))

    result, fake = run_bisect(monkeypatch, tmp_path, [GOOD, SHIFTED], make, criterion="metric")
    assert result.status == "found"
    assert fake.calls == [(GOOD, [0, 1, 2, 3, 4]), (SHIFTED, [0, 1, 2, 3, 4])]
    assert result.probes[0]["seeds"] == 5


def bitwise(differs: dict[str, set[int]]) -> Maker:
    """Final weights equal to the good release's except for the listed (release, seeds)."""

    def make(version: str, seed: int) -> dict[str, Any]:
        source = version if seed in differs.get(version, set()) else "good"
        return cell(version, seed, 0.9, weights=sha("final", source, seed))

    return make


def test_bitwise_a_seed_that_changed_is_bad(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    make = bitwise({SHIFTED: {1}})
    result, fake = run_bisect(
        monkeypatch, tmp_path, [GOOD, SAME, SHIFTED], make, criterion="bitwise", seeds=[0, 1, 2]
    )
    assert result.status == "found"
    assert (result.last_good, result.first_bad) == (SAME, SHIFTED)
    end, middle = result.probes
    assert (end["verdict"], end["seeds_identical"], end["seeds"]) == ("bad", 2, 3)
    assert (middle["verdict"], middle["seeds_identical"], middle["seeds"]) == ("good", 3, 3)
    assert [v for v, _ in fake.calls] == [GOOD, SHIFTED, SAME]
    assert all(seeds == [0, 1, 2] for _, seeds in fake.calls)  # bitwise never adds seeds
    notes = attribution.notes_between(SAME, SHIFTED)
    assert result.release_notes == attribution.unique_notes(notes, list(notes))
    assert [n["release"] for n in result.release_notes] == ["2.11.0"]


def test_bitwise_all_equal_is_not_reproduced(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result, fake = run_bisect(
        monkeypatch, tmp_path, [GOOD, SAME, SHIFTED], bitwise({}), criterion="bitwise"
    )
    assert result.status == "not-reproduced"
    assert result.first_bad is None
    assert [v for v, _ in fake.calls] == [GOOD, SHIFTED]  # only the bad end is probed
    (probe,) = result.probes
    assert (probe["verdict"], probe["seeds_identical"], probe["seeds"]) == ("good", 1, 1)
    assert result.candidates == 3


def test_a_good_release_without_an_ok_cell_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def make(version: str, seed: int) -> dict[str, Any]:
        return cell(version, seed, 0.9, status="failed" if version == GOOD else "ok")

    with pytest.raises(UsageError, match=f"no cell of the good release {GOOD} finished ok: boom"):
        run_bisect(monkeypatch, tmp_path, [GOOD, SHIFTED], make, criterion="bitwise")


def test_a_probe_without_an_ok_cell_is_inconclusive(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def make(version: str, seed: int) -> dict[str, Any]:
        return cell(version, seed, 0.9, status="failed" if version == SHIFTED else "ok")

    result, _ = run_bisect(monkeypatch, tmp_path, [GOOD, SHIFTED], make, criterion="metric")
    assert result.status == "inconclusive"
    assert result.probes[0]["reason"] == "no cell finished ok: boom"


def test_packages_that_changed_between_the_last_good_and_the_first_bad_release() -> None:
    from tfrepro.tasks.bisect import _packages_changed

    ran = {
        "2.17.0": [{"keras_version": "3.4.1", "numpy_version": "1.26.4"}],
        "2.17.1": [{"keras_version": "3.6.0", "numpy_version": "1.26.4"}],
        "2.18.0": [{"keras_version": None}],
    }
    assert _packages_changed(ran, "2.17.0", "2.17.1") == {"keras": ["3.4.1", "3.6.0"]}  # type: ignore[arg-type]
    assert _packages_changed(ran, "2.17.0", "2.18.0") is None  # type: ignore[arg-type]
    assert _packages_changed(ran, "2.17.0", "2.17.0") is None  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- nightlies


def test_a_change_that_follows_the_keras_nightly_is_searched_in_keras(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """tf-nightly builds n1..n3 come with keras-nightly k1..k3, and only k3 changes the final
    weights: TF bisection ends on n2 | n3, the swap (n3's TF with k2) behaves as the good
    release, so the search goes on in keras-nightly builds with n3's TF fixed, and names
    k2 | k3 with the Keras commit log."""
    from tfrepro.envs import nightly

    tfs = ["2.23.0.dev20261001", "2.23.0.dev20261002", "2.23.0.dev20261003"]
    ks = ["3.16.0.dev2026093004", "3.16.0.dev2026100104", "3.16.0.dev2026100204"]
    paired = dict(zip(tfs, ks, strict=True)) | {"2.21.0": ks[0]}
    builds = [nightly.Build(nightly.KERAS, k, f"2026-10-0{i}T05:00:00Z", ("any",))
              for i, k in enumerate(ks)]  # fmt: skip
    monkeypatch.setitem(nightly._MEMO, nightly.KERAS, builds)
    calls: list[tuple[str, str]] = []

    def fake(base: Spec, version: str, opts: Options, reporter: object, axis: str = "tf"):
        tf, keras = (version, paired[version]) if axis == "tf" else (base.matrix.tf[0], version)
        calls.append((tf, keras))
        made = cell(tf, 0, 0.9, weights=sha("final", keras == ks[2]))
        made.update(keras_version=keras, fingerprint={"environment": f"env-{tf}-{keras}"})
        return [made]

    monkeypatch.setattr(bisect_mod, "_run_release", fake)
    result = bisect(probe_spec(spec_mod.from_dict({}), "bitwise", None, 20),
                    ["2.21.0", *tfs], criterion="bitwise", metric=None, margin=None,
                    opts=Options(store=tmp_path / "st"), reporter=Quiet())  # fmt: skip
    assert (result.last_good, result.first_bad) == (tfs[1], tfs[2])
    w = result.window
    assert w is not None and w["commits"].endswith("since=2026-10-02&until=2026-10-03")
    assert "follows the Keras nightly" in w["keras_swap"]
    assert (tfs[2], ks[1]) in calls  # the swap: the bad TF with the good build's Keras
    k = w["keras"]
    assert (k["last_good"]["version"], k["first_bad"]["version"]) == (ks[1], ks[2])
    assert "keras-team/keras" in k["commits"]
    assert f"env-{tfs[2]}-{ks[1]}" in result.envs  # prune keeps the swap's env too
