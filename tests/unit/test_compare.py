"""tfrepro.analysis.compare: the verdict ladder, pairs, axes, churn, trajectories, and calibration
of the verdicts by simulation (no TensorFlow)."""

from __future__ import annotations

import gc
import json
from collections import Counter

import numpy as np
import pytest
from scipy.stats import binomtest

from tfrepro.analysis import stats
from tfrepro.analysis.compare import compare_cells
from tfrepro.analysis.groups import group_summary
from tfrepro.analysis.ladder import LADDER
from tfrepro.errors import UsageError

from .synthetic import cell, groups, normal

REQUIRED = {
    "a",
    "b",
    "metric",
    "verdict",
    "diff",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "tost_p",
    "noise_floor",
    "churn",
    "seeds_needed",
    "mean_a",
    "std_a",
    "n_a",
    "mean_b",
    "std_b",
    "n_b",
    "effect_size",
    "churn_within",
    "mannwhitney_p",
    "per_class",
    "trajectory",
    "margin",
    "alpha",
}


def one(rows: list[dict], metric: str = "accuracy") -> dict:
    (row,) = [r for r in rows if r["metric"] == metric]
    return row


def test_rows_have_the_documented_keys_and_are_plain_json() -> None:
    rng = np.random.default_rng(0)
    rows = compare_cells(groups({"2.15.1": normal(rng, 5), "2.16.2": normal(rng, 5)}))
    assert [r["metric"] for r in rows] == ["accuracy", "loss"]
    for r in rows:
        assert r.keys() >= REQUIRED
        assert r["verdict"] in LADDER
        assert (r["a"], r["b"]) == ("2.15.1", "2.16.2")
    json.dumps(rows, allow_nan=False)  # no numpy scalars, no NaN


def test_bitwise_identical_when_every_matching_seed_has_the_same_weights() -> None:
    cells = [
        cell(tf, s, 0.9 + s / 100, weights=f"w{s}") for tf in ("2.15.1", "2.21.0") for s in range(3)
    ]
    row = one(compare_cells(cells))
    assert row["verdict"] == "bitwise-identical"
    assert row["n_matched"] == 3 and row["identical_weights"] == 3
    assert row["p_adjusted"] is None  # settled before any test, not part of the Holm family


def test_one_seed_with_other_weights_is_not_bitwise() -> None:
    cells = [
        cell(tf, s, 0.9 + s / 100, weights=f"w{s}") for tf in ("2.15.1", "2.21.0") for s in range(3)
    ]
    cells[-1]["final_weights_sha256"] = "other"
    row = one(compare_cells(cells))
    assert row["verdict"] == "numerically-equal"  # the metric still agrees for every seed
    assert row["identical_weights"] == 2


def test_identical_weights_without_matching_seeds_is_not_bitwise() -> None:
    cells = [
        cell("2.15.1", 0, 0.9, weights="w"),
        cell("2.15.1", 1, 0.91, weights="w"),
        cell("2.21.0", 2, 0.9, weights="w"),
        cell("2.21.0", 3, 0.91, weights="w"),
    ]
    row = one(compare_cells(cells))
    assert row["n_matched"] == 0
    assert row["verdict"] not in ("bitwise-identical", "numerically-equal")


def test_bitwise_weights_with_a_different_metric_say_so() -> None:
    cells = [cell("2.15.1", 0, 0.90, weights="w"), cell("2.16.2", 0, 0.95, weights="w")]
    row = one(compare_cells(cells))
    assert row["verdict"] == "bitwise-identical"
    assert "differs anyway" in row["reason"]


def test_numerically_equal_within_float32_ulps() -> None:
    values = [0.91, 0.93, 0.92]
    cells = groups({"1.15.5": values}) + groups({"2.9.3": [v * (1 + 2e-7) for v in values]})
    row = one(compare_cells(cells))
    assert row["verdict"] == "numerically-equal"
    cells[-1]["metrics"]["accuracy"] += 1e-4
    assert one(compare_cells(cells))["verdict"] != "numerically-equal"


def test_different_for_a_shift_far_beyond_the_noise_floor() -> None:
    rng = np.random.default_rng(3)
    cells = groups({"2.15.1": normal(rng, 8, 0.90), "2.16.2": normal(rng, 8, 0.95)})
    row = one(compare_cells(cells))
    assert row["verdict"] == "different"
    assert row["p_adjusted"] < 0.05 and row["effect_size"] > 3
    assert row["ci_low"] > 0 and row["diff"] == pytest.approx(row["mean_b"] - row["mean_a"])
    assert row["seeds_needed"] is None


def test_equivalent_within_a_given_margin() -> None:
    rng = np.random.default_rng(4)
    cells = groups({"2.15.1": normal(rng, 10, 0.9, 0.001), "2.16.2": normal(rng, 10, 0.9, 0.001)})
    row = one(compare_cells(cells, margin=0.005))
    assert row["verdict"] == "equivalent"
    assert row["margin"] == 0.005 and row["margin_source"] == "given"
    assert row["tost_p"] < 0.05


def test_inconclusive_with_one_seed_asks_for_the_recommended_count() -> None:
    row = one(compare_cells(groups({"2.15.1": [0.9], "2.16.2": [0.95]})))
    assert row["verdict"] == "inconclusive"
    assert row["noise_floor"] is None and row["p_value"] is None
    assert row["seeds_needed"] == stats.recommended_seeds() == 23


def test_failed_cells_take_no_part() -> None:
    cells = groups({"2.15.1": [0.9, 0.91], "2.16.2": [0.9, 0.92]})
    cells.append(cell("2.16.2", 5, 0.0, status="failed"))
    row = one(compare_cells(cells))
    assert row["n_b"] == 2
    summary = {g["label"]: g for g in group_summary(cells)}
    assert summary["2.16.2"]["n_ok"] == 2 and summary["2.16.2"]["n_failed"] == 1


def test_holm_adjusts_over_every_pair_and_metric() -> None:
    rng = np.random.default_rng(5)
    cells = groups({v: normal(rng, 5) for v in ("2.14.1", "2.15.1", "2.16.2")})
    rows = compare_cells(cells)
    assert [(r["a"], r["b"]) for r in rows[::2]] == [
        ("2.14.1", "2.15.1"),
        ("2.14.1", "2.16.2"),
        ("2.15.1", "2.16.2"),
    ]
    assert all(r["p_adjusted"] >= r["p_value"] for r in rows)
    assert max(r["p_adjusted"] for r in rows) <= 1


def test_baseline_pairs_and_version_prefix() -> None:
    rng = np.random.default_rng(6)
    cells = groups({v: normal(rng, 3) for v in ("2.9.3", "2.15.1", "2.16.2")})
    rows = compare_cells(cells, baseline="2.15", metrics=["accuracy"])
    assert [(r["a"], r["b"]) for r in rows] == [("2.15.1", "2.9.3"), ("2.15.1", "2.16.2")]
    with pytest.raises(UsageError, match=r"--baseline: '3\.0' matches no group"):
        compare_cells(cells, baseline="3.0")
    with pytest.raises(UsageError, match="--metric: no ok cell recorded f1"):
        compare_cells(cells, metrics=["f1"])


def test_group_by_a_knob_or_an_environment_variable() -> None:
    rng = np.random.default_rng(7)
    by_knob = [
        cell("2.16.2", s, v, knobs={"onednn": o, "threads": 1})
        for o in ("on", "off")
        for s, v in enumerate(normal(rng, 3))
    ]
    by_env = [
        cell("2.16.2", s, v, env={"MY_FLAG": o})
        for o in ("1", "0")
        for s, v in enumerate(normal(rng, 3))
    ]
    for axis, cells, labels in (
        ("onednn", by_knob, ("off", "on")),
        ("MY_FLAG", by_env, ("0", "1")),
    ):
        row = one(compare_cells(cells, by=axis))
        assert (row["a"], row["b"]) == labels
        assert row["n_matched"] == 3  # same seed, same release: matched across the axis
    # the other axis varying in lockstep means no cell matches another
    both = [cell("2.16.2", 0, 0.9, knobs={"onednn": o}, env={"MY_FLAG": o}) for o in ("on", "off")]
    assert one(compare_cells(both, by="onednn"))["n_matched"] == 0
    with pytest.raises(UsageError, match="--by: 'colour' is not an axis"):
        compare_cells(by_knob, by="colour")


def test_matching_seeds_respect_the_other_axes() -> None:
    # grouping by release while the onednn knob varies: seeds match within each knob value
    cells = [
        cell(tf, 0, 0.9, knobs={"onednn": o}) for tf in ("2.15.1", "2.16.2") for o in ("on", "off")
    ]
    assert one(compare_cells(cells))["n_matched"] == 2


def test_a_single_group_has_nothing_to_compare() -> None:
    assert compare_cells(groups({"2.15.1": [0.9, 0.91]})) == []


def test_churn_against_seed_churn() -> None:
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 1])

    def onehot(classes: list[int]) -> np.ndarray:
        return np.eye(3)[classes]

    base = [0, 1, 2, 0, 1, 2, 0, 1]
    preds = {
        ("2.15.1", 0): base,
        ("2.15.1", 1): [0, 1, 2, 0, 1, 2, 1, 1],
        ("2.16.2", 0): [0, 1, 2, 0, 1, 2, 0, 0],
        ("2.16.2", 1): [0, 1, 2, 0, 1, 2, 1, 1],
    }
    cells = [cell(tf, s, 0.9 + s / 100) for tf, s in preds]
    mapping = {c["id"]: onehot(preds[(c["tf_version"], c["seed"])]) for c in cells}
    row = one(compare_cells(cells, predictions=mapping, labels={"d" * 64: labels}))
    assert row["churn_basis"] == "matching seeds"
    assert row["churn"] == pytest.approx((1 / 8 + 0) / 2)  # seed 0 differs once, seed 1 never
    assert row["churn_within_a"] == pytest.approx(1 / 8)
    assert row["churn_within_b"] == pytest.approx(2 / 8)
    assert row["churn_within"] == pytest.approx(3 / 16)
    by_class = {p["class"]: p for p in row["per_class"]}
    assert by_class[0]["acc_a"] == pytest.approx((1 + 2 / 3) / 2)
    assert by_class[1]["shift"] == pytest.approx(((2 / 3 + 1) / 2) - 1)
    assert sum(p["support"] for p in row["per_class"]) == len(labels)


def test_churn_over_all_cross_pairs_without_matching_seeds() -> None:
    cells = [cell("2.15.1", 0, 0.9), cell("2.16.2", 1, 0.9)]
    mapping = {cells[0]["id"]: np.eye(2)[[0, 1, 1, 0]], cells[1]["id"]: np.eye(2)[[0, 1, 0, 0]]}
    row = one(compare_cells(cells, predictions=mapping))
    assert row["churn"] == pytest.approx(0.25) and row["churn_basis"] == "all cross pairs"
    assert row["per_class"] == []  # no labels given


def test_trajectory_of_matching_seeds() -> None:
    cells = [
        cell("2.15.1", 0, 0.9, steps=[2.0, 1.5, 1.0, 0.8]),
        cell("2.16.2", 0, 0.9, steps=[2.0, 1.5, 1.25, 0.7]),
        cell("2.15.1", 1, 0.9, steps=[2.0, 1.0, None]),
        cell("2.16.2", 1, 0.9, steps=[2.0, 1.0, None]),
    ]
    t = one(compare_cells(cells))["trajectory"]
    assert t["first_diff_step"] == 2
    assert t["max_loss_gap"] == pytest.approx(0.25)
    assert {s["seed"]: s["first_diff_step"] for s in t["per_seed"]} == {0: 2, 1: None}
    assert t["gap_curve"][2] == [2, pytest.approx(0.25)]


def test_group_summary_loss_band_and_hashes() -> None:
    cells = [
        cell("2.15.1", 0, 0.9, steps=[2.0, 1.0], weights="w"),
        cell("2.15.1", 1, 0.92, steps=[4.0, None, 1.0], weights="w"),
    ]
    (g,) = group_summary(cells)
    assert g["label"] == "2.15.1" and g["n_ok"] == 2 and g["distinct_final_hashes"] == 1
    assert g["loss_mean"] == [3.0, 1.0, 1.0]
    assert g["loss_std"][0] == pytest.approx(np.std([2.0, 4.0], ddof=1))
    assert g["metrics"]["accuracy"]["mean"] == pytest.approx(0.91)
    assert g["metrics"]["accuracy"]["values"] == [0.9, 0.92]


def test_group_by_attempt_compares_reruns() -> None:
    cells = [
        cell("2.15.1", s, 0.9 + s / 100, attempt=a, weights=f"w{s}")
        for a in (1, 2)
        for s in range(2)
    ]
    row = one(compare_cells(cells, by="attempt"))
    assert (row["a"], row["b"], row["verdict"]) == ("1", "2", "bitwise-identical")


# --- calibration by simulation ---------------------------------------------------------------
# One metric, one pair per comparison, as a user comparing two releases on one metric sees it.
# The seeds of the simulations are fixed, so the counts are the same on every run.


def _simulate(n_sims: int, seeds: int, shift: float, rng: np.random.Generator) -> Counter[str]:
    """Verdicts of n_sims comparisons of two groups of `seeds` values from N(0.9, 0.01²), the
    second shifted by `shift` noise floors."""
    verdicts: Counter[str] = Counter()
    for _ in range(n_sims):
        a = normal(rng, seeds, 0.90, 0.01)
        b = normal(rng, seeds, 0.90 + shift * 0.01, 0.01)
        cells = groups({"2.15.1": a, "2.16.2": b})
        verdicts[compare_cells(cells, metrics=["accuracy"])[0]["verdict"]] += 1
    return verdicts


@pytest.fixture
def _fast_holm(monkeypatch: pytest.MonkeyPatch) -> None:
    # statsmodels' Holm runs gc.collect() on every call: harmless, but 50 ms each here
    monkeypatch.setattr(gc, "collect", lambda *args: 0)


@pytest.mark.usefixtures("_fast_holm")
@pytest.mark.parametrize(("seeds", "rng_seed"), [(5, 12345), (stats.recommended_seeds(), 12346)])
def test_aa_comparisons_say_different_at_most_alpha_of_the_time(seeds: int, rng_seed: int) -> None:
    """A/A: both groups from one distribution. A test calibrated at alpha = 0.05 says
    `different` in 5% of such comparisons *on average*; 400 simulations measure that rate
    to about ±2% (two standard errors), so the check is that the observed count gives no
    evidence of a rate above 5% (one-sided binomial test). Observed with these seeds:
    25/400 (6.2%) with 5 seeds, 24/400 (6.0%) with 23; runs of 1000 simulations with other
    seeds gave 4.0-6.2%, and scipy's Welch test alone 4.1-5.4% over 4000."""
    n_sims = 400
    verdicts = _simulate(n_sims, seeds, 0.0, np.random.default_rng(rng_seed))
    assert binomtest(verdicts["different"], n_sims, 0.05, alternative="greater").pvalue > 0.05
    assert verdicts["different"] / n_sims < 0.075, verdicts
    assert verdicts["bitwise-identical"] == verdicts["numerically-equal"] == 0


@pytest.mark.usefixtures("_fast_holm")
def test_a_one_noise_floor_shift_is_detected_with_the_recommended_seeds() -> None:
    """23 seeds per group (the recommendation, 90% planned power) against a true shift of one
    noise floor: `different` in 181/200 with this seed (`equivalent` 15, `inconclusive` 4)."""
    n_sims = 200
    verdicts = _simulate(n_sims, stats.recommended_seeds(), 1.0, np.random.default_rng(54321))
    assert verdicts["different"] / n_sims >= 0.80, verdicts
    # and equivalence within one noise floor is (rightly) rarely claimed at that boundary
    assert verdicts["equivalent"] / n_sims <= 0.10, verdicts


def _script_cell(tf: str, seed: int, loss: float, gan_final: str) -> dict:
    """A script that trained a warm-up model (same in every release) and then a GAN."""
    warmup = {"name": "warmup", "class": "Sequential", "init_sha256": "i", "final_sha256": "w"}
    gan = {"name": "gan", "class": "GAN", "init_sha256": "j", "final_sha256": gan_final}
    return cell(
        tf, seed, 0.5, loss=loss, weights="w", script={"models": [warmup, gan]}
    )  # final_weights_sha256 is the first model's, as the guest records it


def test_a_pair_is_bitwise_identical_only_when_every_trained_model_is() -> None:
    same = [_script_cell(tf, s, 0.6, f"gan-{s}") for tf in ("2.16.2", "2.21.0") for s in (0, 1)]
    row = one(compare_cells(same), "loss")
    assert row["verdict"] == "bitwise-identical"
    assert "of all 2 trained models" in row["reason"]
    assert row["models_differ"] == []

    differ = [
        _script_cell(tf, s, 0.6 + 0.01 * s + (0.001 if tf == "2.21.0" else 0), f"gan-{tf}-{s}")
        for tf in ("2.16.2", "2.21.0")
        for s in (0, 1)
    ]
    row = one(compare_cells(differ), "loss")
    assert row["verdict"] != "bitwise-identical"
    assert row["identical_weights"] == 0
    assert row["models_differ"] == ["gan"]
    assert "trained models that differ: gan" in row["reason"]


def test_distinct_final_weights_count_every_trained_model() -> None:
    cells = [_script_cell("2.16.2", 0, 0.6, "gan-a"), _script_cell("2.16.2", 1, 0.6, "gan-b")]
    (summary,) = group_summary(cells)
    assert summary["distinct_final_hashes"] == 2  # the first model alone would say 1
