"""Group-sequential verdicts: seeds added in rounds until each comparison settles, with the error
rates kept across every look and every pair.

Design (a group-sequential test with alpha spending, Lan & DeMets, *Biometrika* 70, 1983;
Jennison & Turnbull, *Group Sequential Methods with Applications to Clinical Trials*, 2000,
ch. 7): every group gets `first` seeds, then `step` more per round, up to `max_seeds`; look k
sees n_k seeds per group, information fraction t_k = n_k / max_seeds. A spending function a(t)
says how much of the type-I error alpha may be spent by t: Pocock-type alpha * ln(1 + (e - 1) t)
(stops early when the effect is large; the default) or O'Brien-Fleming-type
2 - 2 Phi(z_{alpha/2} / sqrt(t)) (spends almost nothing early). The boundary c_k on |Z| is solved
look by look so that the probability, under no difference, of first crossing at look k is
a(t_k) - a(t_{k-1}); the Z statistics of the looks are jointly normal with
corr(Z_i, Z_j) = sqrt(t_i / t_j) (see z_boundaries). Each look compares the Welch test's p-value
with the boundary's nominal level 2 (1 - Phi(c_k)) (Jennison & Turnbull §3.1: nominal
significance levels carry the boundary over to t-tests).

Two sequential tests run side by side on every comparison, each spending its own alpha: one for
"different" (two-sided, Welch), one for "equivalent" (the exact noise-floor TOST,
stats.tost_noise_p, or TOST at a given margin). Across the m comparisons of a call each spends
alpha / m (Bonferroni), so the familywise rate of a false "different" stays at alpha over every
look and pair. "bitwise-identical" and "numerically-equal" are not tests: they settle at the
first look where every matched seed agrees.

Measured by benchmarks/bench_sequential.py (no TensorFlow; figures in benchmarks/README.md):
the A/A rate of a false "different", the power at one noise floor and the trainings against the
fixed design of the same power, for the default design (8 seeds a round, at most 40, Pocock).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

import numpy as np
from scipy import optimize
from scipy import stats as sps

SPENDING = ("pocock", "obrien-fleming")


def spent(t: float, alpha: float, spending: str) -> float:
    """The type-I error a spending function allows by information fraction t (0 < t ≤ 1)."""
    if spending == "pocock":
        return alpha * math.log(1 + (math.e - 1) * t)
    if spending == "obrien-fleming":
        return float(2 - 2 * sps.norm.cdf(sps.norm.ppf(1 - alpha / 2) / math.sqrt(t)))
    raise ValueError(f"unknown spending function {spending!r}; choose one of {SPENDING}")


_GRID = 801  # points per look of the numerical integration (accurate to about 1e-7 in alpha)


@cache
def z_boundaries(fractions: tuple[float, ...], alpha: float, spending: str) -> tuple[float, ...]:
    """|Z| boundaries c_1..c_K of a two-sided test spending `alpha` at these information
    fractions (increasing, the last 1.0 for a full design).

    Computed by the recursive numerical integration of Armitage, McPherson & Rowe (*JRSS A*
    132, 1969; Jennison & Turnbull §19.2): S_k = Z_k sqrt(t_k) is Brownian motion at the looks,
    the density of S_k on the paths that have not crossed yet is carried from look to look on a
    grid, and each c_k solves (scipy brentq) "the mass that crosses at look k equals the alpha
    spent between t_{k-1} and t_k". Deterministic and exact to the grid's accuracy."""
    bounds: list[float] = []
    nodes = weights = np.zeros(0)
    before = 0.0
    for k, t in enumerate(fractions):
        target = spent(t, alpha, spending) - before
        before += target
        if k == 0:
            c = float(sps.norm.ppf(1 - target / 2))
            b = c * math.sqrt(t)
            nodes = np.linspace(-b, b, _GRID)
            weights = _trapezoid(nodes) * sps.norm.pdf(nodes, scale=math.sqrt(t))
            bounds.append(c)
            continue
        sd = math.sqrt(t - fractions[k - 1])

        def excess(b: float, u: np.ndarray, w: np.ndarray, sd: float, target: float) -> float:
            """The mass that crosses +-b at this look, less what may cross here."""
            return float(w @ (sps.norm.cdf((-b - u) / sd) + sps.norm.sf((b - u) / sd))) - target

        args = (nodes, weights, sd, target)
        b = float(optimize.brentq(excess, 1e-6, 15.0, args=args, xtol=1e-10))
        new = np.linspace(-b, b, _GRID)
        density = sps.norm.pdf((new[:, None] - nodes[None, :]) / sd) @ weights / sd
        nodes, weights = new, _trapezoid(new) * density
        bounds.append(b / math.sqrt(t))
    return tuple(bounds)


def _trapezoid(x: np.ndarray) -> np.ndarray:
    """Trapezoid-rule weights of an evenly spaced grid."""
    w = np.full(len(x), x[1] - x[0])
    w[[0, -1]] /= 2
    return w


def nominal_levels(fractions: Sequence[float], alpha: float, spending: str) -> list[float]:
    """The two-sided nominal p-value levels 2 (1 - Phi(c_k)) of the boundaries."""
    bounds = z_boundaries(tuple(round(f, 6) for f in fractions), alpha, spending)
    return [float(2 * (1 - sps.norm.cdf(c))) for c in bounds]


@dataclass
class Design:
    """Seeds per group at each look, and what each look may spend."""

    first: int = 8  # seeds per group in the first round
    step: int = 8  # seeds added per group in each later round
    max_seeds: int = 40  # per group
    alpha: float = 0.05  # familywise, for "different" and for "equivalent" each
    spending: str = "pocock"
    comparisons: int = 1  # m: each comparison spends alpha / m
    reference: int | None = None  # seeds of a fixed group the rounds are compared with (a
    # baseline: `check --until-settled`); None when every group grows
    seeds: list[int] = field(init=False)  # seeds per group at each look

    def __post_init__(self) -> None:
        if self.first < 2:
            raise ValueError("the first round needs at least 2 seeds per group (a noise floor)")
        if self.step < 1:
            raise ValueError("each round adds at least 1 seed per group")
        if self.reference is not None and self.reference < 2:
            raise ValueError("a fixed reference group needs at least 2 seeds (a noise floor)")
        if self.max_seeds < self.first:
            raise ValueError(
                f"max_seeds {self.max_seeds} is below the first round's {self.first} seeds"
            )
        looks = list(range(self.first, self.max_seeds + 1, self.step))
        if looks[-1] != self.max_seeds:
            looks.append(self.max_seeds)
        self.seeds = looks

    @property
    def fractions(self) -> list[float]:
        """Information fractions of the looks. Against a fixed reference group of r seeds the
        information of a difference of means with n seeds on the growing side is
        1 / (1/r + 1/n); the looks' Z statistics then keep corr(Z_i, Z_j) = sqrt(t_i / t_j) with
        t_k = I(n_k) / I(max_seeds) (the shared reference mean adds the same 1/r to every
        covariance), so the boundaries are solved at those fractions."""
        if self.reference is None:
            return [n / self.max_seeds for n in self.seeds]
        r = self.reference
        info = [n * r / (n + r) for n in self.seeds]
        return [i / info[-1] for i in info]

    @property
    def per_comparison_alpha(self) -> float:
        return self.alpha / max(self.comparisons, 1)

    def levels(self) -> list[float]:
        """Nominal p-value level at each look, for either test of one comparison."""
        return nominal_levels(self.fractions, self.per_comparison_alpha, self.spending)

    def look_of(self, n: int) -> int:
        """The look (0-based) whose seed count is n: the last one at or below n."""
        return max(0, sum(1 for s in self.seeds if s <= n) - 1)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["levels"] = self.levels()
        out["fractions"] = self.fractions
        return out


def verdict_at(
    p_different: float | None, p_equivalent: float | None, look: int, design: Design
) -> str | None:
    """ "different" / "equivalent" when a test crosses its boundary at this look, else None
    (keep adding seeds; at the last look None means inconclusive)."""
    level = design.levels()[look]
    if p_different is not None and p_different < level:
        return "different"
    if p_equivalent is not None and p_equivalent < level:
        return "equivalent"
    return None


def fixed_seeds(effect: float, *, alpha: float = 0.05, power: float = 0.8) -> int:
    """Seeds per group a fixed design needs for this power at this effect (in noise floors),
    two-sided t-test (statsmodels' power solver)."""
    from statsmodels.stats.power import TTestIndPower

    n = TTestIndPower().solve_power(effect_size=effect, alpha=alpha, power=power)
    return math.ceil(n)


def decide(row: dict[str, Any], look: int, design: Design) -> str | None:
    """A compare row's sequential verdict at this look (0-based), or None (still open):
    bitwise-identical / numerically-equal when every matched seed agrees, else the tests at the
    level of the look its seeds reached (fewer ok seeds than planned: an earlier look's)."""
    if row["bitwise"]:
        return "bitwise-identical"
    if row["metric_equal"]:
        return "numerically-equal"
    grown = row["n_b"] if design.reference is not None else min(row["n_a"], row["n_b"])
    at = design.look_of(grown)
    return verdict_at(row["p_value"], row["tost_p"], min(at, look), design)
