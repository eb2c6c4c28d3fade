"""The statistics behind the verdicts, as thin wrappers over scipy and statsmodels.

Every function takes plain sequences of floats (one value per seed) and returns plain floats or
None. None means "cannot be computed from this data" (fewer than two seeds, no spread at all),
never an error: with two seeds per group a user still gets every number that can be had.

Convention: a difference is always `b - a` (the later or compared group minus the reference).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

import numpy as np
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestIndPower
from statsmodels.stats.weightstats import ttost_ind

# Target power of tfrepro's seed recommendation. 0.9 rather than the textbook 0.8: the estimate
# of the noise floor from a handful of seeds is itself noisy, and Welch's test loses a little
# power against Student's, so planning for 0.9 keeps the *achieved* power above 0.8.
POWER = 0.9
# Seeds per group tfrepro recommends to detect a shift of one noise floor (one seed-to-seed
# standard deviation) at alpha 0.05 with POWER: recommended_seeds() == 23.
MAX_SEEDS = 10_000  # beyond this, "how many seeds" has no useful answer
BOOTSTRAP_RESAMPLES = 2000

T = TypeVar("T")


@contextmanager
def _quiet() -> Iterator[None]:
    # scipy and statsmodels warn on near-constant data; callers check the results for
    # finiteness instead, and pytest runs with warnings as errors.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def _finite(x: object) -> float | None:
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _guard(fn: Callable[[], T]) -> T | None:
    with _quiet():
        try:
            return fn()
        except (ValueError, ZeroDivisionError, FloatingPointError):
            return None


def mean(x: Sequence[float]) -> float | None:
    return float(np.mean(x)) if len(x) else None


def std(x: Sequence[float]) -> float | None:
    """Sample standard deviation (ddof=1); None below two values."""
    return float(np.std(x, ddof=1)) if len(x) >= 2 else None


def pooled_std(*groups: Sequence[float]) -> float | None:
    """The noise floor: within-group standard deviation pooled over the groups that have ≥ 2
    values, weighted by their degrees of freedom."""
    ss = 0.0
    dof = 0
    for g in groups:
        if len(g) >= 2:
            arr = np.asarray(g, dtype=float)
            ss += float(np.sum((arr - arr.mean()) ** 2))
            dof += len(arr) - 1
    return math.sqrt(ss / dof) if dof else None


def _has_spread(a: Sequence[float], b: Sequence[float]) -> bool:
    return len(a) >= 2 and len(b) >= 2 and (np.ptp(a) > 0 or np.ptp(b) > 0)


def welch_p(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided Welch t-test p-value; None with < 2 values per group or no spread at all."""
    if not _has_spread(a, b):
        return None
    res = _guard(lambda: sps.ttest_ind(b, a, equal_var=False))
    return _finite(res.pvalue) if res is not None else None


def mannwhitney_p(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided Mann-Whitney U p-value; None with < 2 values per group."""
    if len(a) < 2 or len(b) < 2:
        return None
    res = _guard(lambda: sps.mannwhitneyu(b, a, alternative="two-sided"))
    return _finite(res.pvalue) if res is not None else None


def tost_p(a: Sequence[float], b: Sequence[float], margin: float | None) -> float | None:
    """p-value of the two one-sided tests that `b - a` lies inside (-margin, +margin) (Welch
    variances). Below alpha means "equivalent within the margin"."""
    if margin is None or margin <= 0 or not _has_spread(a, b):
        return None
    res = _guard(
        lambda: ttost_ind(
            np.asarray(b, float), np.asarray(a, float), -margin, margin, usevar="unequal"
        )
    )
    return _finite(res[0]) if res is not None else None


def tost_noise_p(a: Sequence[float], b: Sequence[float], margin_sd: float = 1.0) -> float | None:
    """Equivalence p-value when the margin is in noise floors (|mean(b) - mean(a)| < margin_sd
    pooled standard deviations), the default margin.

    TOST with a margin taken from the data (margin = the observed noise floor) would claim
    equivalence too often; the exact test for a standardized margin compares Student's t with
    the noncentral t distribution at the margin (Wellek, *Testing Statistical Hypotheses of
    Equivalence and Noninferiority*, 2010, §6.1), whose rejection rate at the boundary is alpha.
    """
    if margin_sd <= 0 or not _has_spread(a, b):
        return None
    na, nb = len(a), len(b)
    scale = math.sqrt(1 / na + 1 / nb)
    sd = pooled_std(a, b)
    if not sd:
        return None
    t = abs(float(np.mean(b) - np.mean(a))) / (sd * scale)
    df, ncp = na + nb - 2, margin_sd / scale
    p = _guard(lambda: sps.nct.cdf(t, df, ncp) - sps.nct.cdf(-t, df, ncp))
    return _finite(p)


def bootstrap_ci(
    a: Sequence[float], b: Sequence[float], *, confidence: float = 0.95, seed: int = 0
) -> tuple[float | None, float | None]:
    """Percentile bootstrap confidence interval of mean(b) - mean(a).

    Degenerate data gets the honest answer rather than an error: (None, None) with fewer than
    two values in a group, the point itself when neither group varies.
    """
    if len(a) < 2 or len(b) < 2:
        return None, None
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if np.ptp(xa) == 0 and np.ptp(xb) == 0:
        d = float(xb[0] - xa[0])
        return d, d

    def diff(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.mean(y, axis=axis) - np.mean(x, axis=axis)

    res = _guard(
        lambda: sps.bootstrap(
            (xa, xb),
            diff,
            method="percentile",
            confidence_level=confidence,
            n_resamples=BOOTSTRAP_RESAMPLES,
            vectorized=True,
            rng=np.random.default_rng(seed),
        )
    )
    if res is None:
        return None, None
    return _finite(res.confidence_interval.low), _finite(res.confidence_interval.high)


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm-adjusted p-values over the whole family; None stays None (and is not counted)."""
    present = [i for i, p in enumerate(pvalues) if p is not None]
    out: list[float | None] = [None] * len(pvalues)
    if not present:
        return out
    _, adjusted, _, _ = multipletests([pvalues[i] for i in present], method="holm")
    for i, p in zip(present, adjusted, strict=True):
        out[i] = float(p)
    return out


def _solve_n(effect: float, alpha: float, power: float, alternative: str) -> int | None:
    if not math.isfinite(effect) or effect <= 0:
        return None
    n = _guard(
        lambda: TTestIndPower().solve_power(
            effect_size=effect, alpha=alpha, power=power, ratio=1.0, alternative=alternative
        )
    )
    n = _finite(n)
    if n is None or n > MAX_SEEDS:
        return None
    return max(2, math.ceil(n))


def recommended_seeds(effect: float = 1.0, *, alpha: float = 0.05, power: float = POWER) -> int:
    """Seeds per group to detect a shift of `effect` noise floors (two-sided Welch test at
    `alpha`) with probability `power`: 23 for the default one noise floor."""
    n = _solve_n(effect, alpha, power, "two-sided")
    if n is None:
        raise ValueError(f"no finite seed count detects an effect of {effect} noise floors")
    return n


def seeds_needed(
    diff: float | None,
    noise_floor: float | None,
    margin: float | None,
    *,
    alpha: float = 0.05,
    power: float = POWER,
) -> int | None:
    """Seeds per group that would likely resolve an undecided comparison, by power analysis.

    If the observed difference is real, detecting it needs the two-sided test's n at effect
    |diff|/noise; if it is smaller than the margin, proving equivalence needs the one-sided n at
    effect (margin - |diff|)/noise. The smaller of the two is the cheaper way out. Without a
    usable noise floor (fewer than two seeds, no spread) the answer is the recommendation for
    a one-noise-floor shift.
    """
    if noise_floor is None or noise_floor <= 0 or diff is None:
        return recommended_seeds(1.0, alpha=alpha, power=power)
    gap = abs(diff)
    options = [_solve_n(gap / noise_floor, alpha, power, "two-sided")]
    if margin is not None and margin > gap:
        options.append(_solve_n((margin - gap) / noise_floor, alpha, power, "larger"))
    found = [n for n in options if n is not None]
    return min(found) if found else None
