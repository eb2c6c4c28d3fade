"""tfrepro.analysis.stats: the wrappers agree with scipy/statsmodels and degrade to None."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from tfrepro.analysis import stats

A = [0.90, 0.91, 0.89, 0.92, 0.90]
B = [0.93, 0.94, 0.92, 0.95, 0.93]


def test_welch_and_mann_whitney_match_scipy() -> None:
    assert stats.welch_p(A, B) == pytest.approx(sps.ttest_ind(B, A, equal_var=False).pvalue)
    assert stats.mannwhitney_p(A, B) == pytest.approx(sps.mannwhitneyu(B, A).pvalue)
    assert stats.welch_p(A, B) < 0.01


def test_equivalence_in_noise_floors() -> None:
    same = stats.tost_noise_p([0.0, 1.0, -1.0] * 10, [0.1, 1.1, -0.9] * 10, 1.0)
    apart = stats.tost_noise_p([0.0, 1.0, -1.0] * 10, [2.0, 3.0, 1.0] * 10, 1.0)
    assert same is not None and same < 0.01  # 0.1 sd apart with 30 seeds: equivalent
    assert apart is not None and apart > 0.5  # 2 sd apart: not within one noise floor
    assert stats.tost_noise_p([0.0], [0.1, 0.2], 1.0) is None


def test_tests_need_two_values_and_some_spread() -> None:
    assert stats.welch_p([0.9], B) is None
    assert stats.mannwhitney_p([0.9], B) is None
    assert stats.welch_p([0.9, 0.9], [0.8, 0.8]) is None  # no spread: nothing to test against
    assert stats.tost_p([0.9, 0.9], [0.9, 0.9], 0.01) is None
    # one group without spread is fine for Welch
    assert stats.welch_p([0.9, 0.9, 0.9], [0.91, 0.92, 0.93]) is not None


def test_pooled_std_is_the_within_group_spread() -> None:
    expected = math.sqrt((np.var(A, ddof=1) * 4 + np.var(B, ddof=1) * 4) / 8)
    assert stats.pooled_std(A, B) == pytest.approx(expected)
    assert stats.pooled_std([1.0], [2.0]) is None
    assert stats.pooled_std([1.0], [2.0, 4.0]) == pytest.approx(math.sqrt(2))


def test_bootstrap_ci_brackets_the_difference_and_is_deterministic() -> None:
    low, high = stats.bootstrap_ci(A, B)
    assert low is not None and high is not None
    assert low < np.mean(B) - np.mean(A) < high
    assert low > 0  # a clear shift
    assert stats.bootstrap_ci(A, B) == (low, high)


def test_bootstrap_ci_degenerate_inputs() -> None:
    assert stats.bootstrap_ci([0.9], B) == (None, None)
    assert stats.bootstrap_ci([0.9, 0.9], [0.8, 0.8]) == pytest.approx((-0.1, -0.1))


def test_tost_says_equivalent_only_inside_the_margin() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(0.9, 0.001, 30), rng.normal(0.9, 0.001, 30)
    p_wide = stats.tost_p(list(x), list(y), 0.01)
    p_narrow = stats.tost_p(list(x), list(y), 0.00001)
    assert p_wide is not None and p_wide < 0.05
    assert p_narrow is not None and p_narrow > 0.05
    assert stats.tost_p(list(x), list(y), None) is None


def test_holm_matches_statsmodels_and_skips_none() -> None:
    adjusted = stats.holm([0.01, None, 0.04, 0.5])
    assert adjusted[1] is None
    assert adjusted[0] == pytest.approx(0.03)
    assert adjusted[2] == pytest.approx(0.08)
    assert adjusted[3] == pytest.approx(0.5)
    assert stats.holm([None]) == [None]


def test_recommended_seed_count() -> None:
    # tfrepro's recommendation: a one-noise-floor shift, alpha 0.05, power 0.9
    assert stats.recommended_seeds() == 23
    assert stats.recommended_seeds(2.0) < 23 < stats.recommended_seeds(0.5)
    with pytest.raises(ValueError):
        stats.recommended_seeds(0.0)


def test_seeds_needed() -> None:
    # a one-sigma observed shift with no margin to prove: the recommendation itself
    assert stats.seeds_needed(0.01, 0.01, None) == stats.recommended_seeds(1.0)
    # a large shift needs fewer seeds than a small one
    assert stats.seeds_needed(0.03, 0.01, None) < stats.seeds_needed(0.005, 0.01, None)
    # no shift at all: proving equivalence within a generous margin is the way out
    n_equiv = stats.seeds_needed(0.0, 0.01, 0.02)
    assert n_equiv is not None and n_equiv < stats.recommended_seeds(1.0)
    # unknown noise floor: fall back to the recommendation
    assert stats.seeds_needed(None, None, None) == 23
    assert stats.seeds_needed(0.01, 0.0, None) == 23
    # no shift and no margin: no number of seeds settles it
    assert stats.seeds_needed(0.0, 0.01, None) is None
