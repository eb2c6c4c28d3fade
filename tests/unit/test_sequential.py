"""The group-sequential design: boundaries that spend exactly alpha, the look schedule, and the
one-line refusals of designs that cannot work."""

from __future__ import annotations

import numpy as np
import pytest

from tfrepro.analysis import sequential


@pytest.mark.parametrize("spending", sequential.SPENDING)
def test_boundaries_spend_alpha_over_all_looks(spending: str) -> None:
    """Brownian motion at the looks' information fractions crosses some boundary with
    probability alpha, and by each look with the spending function's share."""
    design = sequential.Design(first=6, step=6, max_seeds=30, spending=spending)
    t = np.asarray(design.fractions)
    bounds = np.asarray(sequential.z_boundaries(tuple(t), 0.05, spending))
    rng = np.random.default_rng(0)
    steps = rng.normal(size=(200_000, len(t))) * np.sqrt(np.diff(np.concatenate([[0], t])))
    z = np.cumsum(steps, axis=1) / np.sqrt(t)
    crossed = np.abs(z) >= bounds
    by_look = np.cumsum(crossed, axis=1) > 0
    for k, frac in enumerate(t):
        assert by_look[:, k].mean() == pytest.approx(
            sequential.spent(frac, 0.05, spending), abs=0.002
        )
    assert by_look[:, -1].mean() == pytest.approx(0.05, abs=0.002)


def test_pocock_type_boundaries_are_nearly_flat_and_obrien_fleming_spends_late() -> None:
    fractions = (0.2, 0.4, 0.6, 0.8, 1.0)
    pocock = sequential.z_boundaries(fractions, 0.05, "pocock")
    assert pocock == pytest.approx((2.438, 2.427, 2.410, 2.397, 2.386), abs=0.01)
    obf = sequential.z_boundaries(fractions, 0.05, "obrien-fleming")
    assert obf[0] > 4 and obf[-1] < 2.1 and list(obf) == sorted(obf, reverse=True)


def test_looks_and_levels_of_a_design() -> None:
    d = sequential.Design(first=6, step=6, max_seeds=30)
    assert d.seeds == [6, 12, 18, 24, 30]
    assert sequential.Design(first=3, step=4, max_seeds=12).seeds == [3, 7, 11, 12]
    assert d.look_of(6) == 0 and d.look_of(13) == 1 and d.look_of(2) == 0
    levels = d.levels()
    d.comparisons = 3  # Bonferroni: each comparison spends a third
    assert all(b < a for a, b in zip(levels, d.levels(), strict=True))
    assert sequential.verdict_at(0.001, None, 0, d) == "different"
    assert sequential.verdict_at(0.5, 0.001, 0, d) == "equivalent"
    assert sequential.verdict_at(0.03, 0.2, 0, d) is None  # 0.03 is not enough at look 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"first": 1}, "at least 2 seeds"),
        ({"step": 0}, "at least 1 seed"),
        ({"first": 6, "max_seeds": 4}, "below the first round"),
        ({"reference": 1}, "reference group needs at least 2"),
    ],
)
def test_designs_that_cannot_work_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sequential.Design(**kwargs)


def test_fixed_design_seeds_match_the_t_test_power() -> None:
    assert sequential.fixed_seeds(1.0, power=0.8) == 17
    assert sequential.fixed_seeds(1.0, power=0.9) == 23


def test_against_a_fixed_reference_the_fractions_follow_the_information() -> None:
    """check --until-settled: the baseline keeps r seeds, so each round adds less information
    than the last: the fractions are 1/(1/r + 1/n) over the last look's, not n / max."""
    grows = sequential.Design(first=4, step=4, max_seeds=12)
    fixed = sequential.Design(first=4, step=4, max_seeds=12, reference=4)
    assert grows.fractions == pytest.approx([1 / 3, 2 / 3, 1.0])
    # I(4) = 2, I(8) = 8/3, I(12) = 3
    assert fixed.fractions == pytest.approx([2 / 3, 8 / 9, 1.0])
    assert fixed.as_dict()["reference"] == 4
    # a row of check: n_a is the baseline's (fixed), the look is the growing side's
    row = {"bitwise": False, "metric_equal": False, "p_value": 0.02, "tost_p": 0.5,
           "n_a": 4, "n_b": 8}  # fmt: skip
    level = fixed.levels()[1]
    assert (sequential.decide(row, 1, fixed) == "different") == (level > 0.02)
    assert sequential.decide({**row, "p_value": level / 2}, 1, fixed) == "different"
    assert sequential.decide({**row, "p_value": level * 1.01}, 1, fixed) is None
