"""Verdicts: every pair of cell groups, every final metric, measured against the seed noise floor.

Each (pair, metric) gets exactly one verdict, the first rung of this ladder (analysis.ladder)
that holds:

1. ``bitwise-identical``: every matching seed (≥ 1) has the same final-weights sha256.
2. ``numerically-equal``: the metric agrees within RTOL/ATOL for every matching seed (≥ 1),
   though the weights are not bitwise identical.
3. ``equivalent``: the TOST p-value is below alpha at the margin.
4. ``different``: the Welch t-test p-value, Holm-adjusted over every (pair, metric) of the call,
   is below alpha.
5. ``inconclusive``: none of the above; ``seeds_needed`` says how many seeds per group would
   likely settle it.

The margin is in the metric's own units and applies to every compared metric: ``margin`` (the
``--margin`` option or the spec's ``margin``, tested with statsmodels' TOST) or, by default, one
noise floor — a version difference smaller than the seed-to-seed standard deviation is treated
as irrelevant, tested with the exact equivalence test for a margin in standard deviations
(stats.tost_noise_p). The noise floor is the within-group standard deviation pooled over the two
groups of a pair.

Seeds: tfrepro recommends stats.recommended_seeds() = 23 seeds per group, enough to detect a
shift of one noise floor with 90% power at alpha 0.05; ``seeds_needed`` (inconclusive rows
only) applies the same power analysis to the observed difference and margin.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tfrepro.analysis import shifts, stats
from tfrepro.analysis.groups import (
    Cell,
    check_axis,
    group_cells,
    loss_array,
    match_key,
    metric_names,
    metric_values,
)
from tfrepro.analysis.ladder import Verdict
from tfrepro.errors import UsageError
from tfrepro.record import Status, final_weights_id, models_that_differ, trained_models

# "Numerically equal": metrics computed in float32 and agreeing to within a few ulps.
RTOL = 1e-6
ATOL = 1e-9
DEFAULT_MARGIN = "1 noise floor"


def compare_cells(
    cells: Sequence[Cell],
    *,
    by: str = "tf_version",
    metrics: Sequence[str] | None = None,
    margin: float | None = None,
    baseline: str | None = None,
    alpha: float = 0.05,
    predictions: Mapping[str, np.ndarray] | None = None,
    labels: Mapping[str, np.ndarray] | None = None,
) -> list[dict[str, Any]]:
    """One result dict per (pair of groups, metric), verdict included.

    Only cells with status ok take part. Pairs are every two groups (a before b in natural
    order of the labels) or, with `baseline`, that group (a) against each other (b).
    predictions: cell key (see `cell_key`) → model outputs on the test split (load.py);
    labels: data_sha256 → true test labels; both optional (churn and per-class shifts need them).

    Row keys: axis, a, b, metric, verdict, reason; mean_a, std_a, n_a, mean_b, std_b, n_b;
    diff (b - a), ci_low, ci_high (bootstrap 95%), p_value (Welch), p_adjusted (Holm; None for
    rows settled as bitwise-identical or numerically-equal), mannwhitney_p, tost_p, margin,
    margin_source ("given" or "1 noise floor"), alpha, noise_floor, effect_size (diff / noise
    floor), n_matched, identical_weights, identical_init, bitwise, metric_equal, seeds_needed
    (inconclusive rows only); per pair, repeated on each metric's row: churn, churn_basis,
    churn_within, churn_within_a, churn_within_b, per_class [{class, acc_a, acc_b, shift,
    support}], trajectory ({first_diff_step, max_loss_gap, n_seeds, per_seed, gap_curve} or
    None). Numbers are floats or None, never NaN.
    """
    check_axis(cells, by)
    groups = group_cells((c for c in cells if c.get("status") == Status.OK), by)
    names = _metrics(groups, metrics)
    rows: list[dict[str, Any]] = []
    for a, b in _pairs(list(groups), baseline):
        rows.extend(
            compare_groups(
                groups[a],
                groups[b],
                a,
                b,
                by=by,
                metrics=names,
                margin=margin,
                alpha=alpha,
                predictions=predictions,
                labels=labels,
            )
        )
    return decide(rows)


def cell_key(cell: Cell, unique: bool = True) -> str:
    """The key of a cell in a predictions mapping: its id, or id/attempt when a list holds
    several attempts of one cell (grouping by attempt)."""
    return str(cell.get("id")) if unique else f"{cell.get('id')}/{cell.get('attempt')}"


def _metrics(groups: Mapping[str, list[Cell]], wanted: Sequence[str] | None) -> list[str]:
    known = metric_names(c for cs in groups.values() for c in cs)
    if not wanted:
        return known
    unknown = [m for m in wanted if m not in known]
    if unknown:
        raise UsageError(
            f"--metric: no ok cell recorded {', '.join(unknown)}; recorded metrics: "
            f"{', '.join(known) or 'none'}"
        )
    return list(dict.fromkeys(wanted))


def _pairs(labels: list[str], baseline: str | None) -> list[tuple[str, str]]:
    if baseline is None:
        return [(a, b) for i, a in enumerate(labels) for b in labels[i + 1 :]]
    chosen = resolve_group(labels, baseline, "--baseline")
    return [(chosen, b) for b in labels if b != chosen]


def resolve_group(labels: Sequence[str], value: str, option: str) -> str:
    """A group label from what the user typed: exact, else a unique version prefix (2.15 for
    2.15.1)."""
    if value in labels:
        return value
    found = [lab for lab in labels if lab.startswith(value + ".")]
    if len(found) == 1:
        return found[0]
    raise UsageError(
        f"{option}: '{value}' matches {'several' if found else 'no'} group(s) with ok cells; "
        f"groups: {', '.join(labels) or 'none'}"
    )


def _pair_predictions(
    cells: Sequence[Cell], predictions: Mapping[str, np.ndarray] | None
) -> dict[int, np.ndarray]:
    if not predictions:
        return {}
    out = {}
    for c in cells:
        raw = predictions.get(cell_key(c, unique=False), predictions.get(cell_key(c)))
        classes = shifts.predicted_classes(raw)
        if classes is not None:
            out[id(c)] = classes
    return out


def compare_groups(
    a_cells: Sequence[Cell],
    b_cells: Sequence[Cell],
    a: str,
    b: str,
    *,
    by: str,
    metrics: Sequence[str],
    margin: float | None,
    alpha: float = 0.05,
    predictions: Mapping[str, np.ndarray] | None = None,
    labels: Mapping[str, np.ndarray] | None = None,
) -> list[dict[str, Any]]:
    """Rows for one pair of groups (ok cells only), without verdicts: pass every row of one
    family of comparisons to `decide`."""
    matched = _matched(a_cells, b_cells, by)
    weights = _weights_facts(matched)
    shared = _shared(a_cells, b_cells, matched, predictions, labels)
    rows = []
    for metric in metrics:
        spread, equal = _metric_facts(a_cells, b_cells, matched, metric, margin, alpha)
        row: dict[str, Any] = {"axis": by, "a": a, "b": b, "metric": metric}
        row.update(verdict=None, reason=None)
        row.update(spread)
        row.update({k: weights[k] for k in ("n_matched", "identical_weights", "identical_init")})
        row.update(bitwise=weights["bitwise"], metric_equal=equal, seeds_needed=None)
        row.update(models=weights["models"], models_differ=weights["models_differ"], **shared)
        rows.append(row)
    return rows


def _metric_facts(
    a_cells: Sequence[Cell],
    b_cells: Sequence[Cell],
    matched: Sequence[tuple[Cell, Cell]],
    metric: str,
    margin: float | None,
    alpha: float,
) -> tuple[dict[str, Any], bool]:
    """A metric's two samples: means, spreads, the tests' p-values, the margin and noise
    floor; and whether every matched pair agrees within RTOL/ATOL."""
    va, vb = metric_values(a_cells, metric), metric_values(b_cells, metric)
    pairs_m = [
        (ca["metrics"][metric], cb["metrics"][metric])
        for ca, cb in matched
        if _finite(ca, metric) and _finite(cb, metric)
    ]
    mean_a, mean_b = stats.mean(va), stats.mean(vb)
    diff = mean_b - mean_a if mean_a is not None and mean_b is not None else None
    noise = stats.pooled_std(va, vb)
    ci_low, ci_high = stats.bootstrap_ci(va, vb)
    spread = {
        "mean_a": mean_a,
        "std_a": stats.std(va),
        "n_a": len(va),
        "mean_b": mean_b,
        "std_b": stats.std(vb),
        "n_b": len(vb),
        "diff": diff,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "p_value": stats.welch_p(va, vb),
        "p_adjusted": None,
        "mannwhitney_p": stats.mannwhitney_p(va, vb),
        "tost_p": (
            stats.tost_p(va, vb, margin) if margin is not None else stats.tost_noise_p(va, vb, 1.0)
        ),
        "margin": margin if margin is not None else noise,
        "margin_source": "given" if margin is not None else DEFAULT_MARGIN,
        "alpha": alpha,
        "noise_floor": noise,
        "effect_size": diff / noise if diff is not None and noise else None,
    }
    equal = (
        bool(pairs_m)
        and len(pairs_m) == len(matched)
        and all(math.isclose(x, y, rel_tol=RTOL, abs_tol=ATOL) for x, y in pairs_m)
    )
    return spread, equal


def _matched(a_cells: Sequence[Cell], b_cells: Sequence[Cell], by: str) -> list[tuple[Cell, Cell]]:
    """Pairs of A and B cells that differ only along `by` (the same seed and settings)."""
    a_by_key: dict[tuple[Any, ...], Cell] = {}
    for c in a_cells:
        a_by_key.setdefault(match_key(c, by), c)
    matched: list[tuple[Cell, Cell]] = []
    seen: set[tuple[Any, ...]] = set()
    for c in b_cells:
        k = match_key(c, by)
        if k in a_by_key and k not in seen:
            seen.add(k)
            matched.append((a_by_key[k], c))
    return matched


def _weights_facts(matched: Sequence[tuple[Cell, Cell]]) -> dict[str, Any]:
    """What the matched pairs' weights say: how many end identical (every model a script
    trained), start identical, and which of a script's models differ (in training order)."""
    same = [
        final_weights_id(ca) is not None and final_weights_id(ca) == final_weights_id(cb)
        for ca, cb in matched
    ]
    same_init = sum(
        ca.get("init_weights_sha256") is not None
        and ca.get("init_weights_sha256") == cb.get("init_weights_sha256")
        for ca, cb in matched
    )
    return {
        "n_matched": len(matched),
        "identical_weights": sum(same),
        "identical_init": same_init,
        "bitwise": bool(matched) and all(same),
        "models": max((len(trained_models(c)) for c, _ in matched), default=0),
        "models_differ": list(
            dict.fromkeys(n for ca, cb in matched for n in models_that_differ(ca, cb))
        ),
    }


def _finite(cell: Cell, metric: str) -> bool:
    v = (cell.get("metrics") or {}).get(metric)
    return isinstance(v, int | float) and math.isfinite(v)


def _shared(
    a_cells: Sequence[Cell],
    b_cells: Sequence[Cell],
    matched: Sequence[tuple[Cell, Cell]],
    predictions: Mapping[str, np.ndarray] | None,
    labels: Mapping[str, np.ndarray] | None,
) -> dict[str, Any]:
    """What a pair has regardless of the metric: churn, per-class shifts, trajectories."""
    classes = _pair_predictions([*a_cells, *b_cells], predictions)
    ca = [classes[id(c)] for c in a_cells if id(c) in classes]
    cb = [classes[id(c)] for c in b_cells if id(c) in classes]
    churn, basis = shifts.cross_churn(
        ca,
        cb,
        [
            (classes[id(x)], classes[id(y)])
            for x, y in matched
            if id(x) in classes and id(y) in classes
        ],
    )
    wa, wb = shifts.within_churn(ca), shifts.within_churn(cb)

    def with_labels(cells: Sequence[Cell]) -> list[tuple[np.ndarray, np.ndarray]]:
        out = []
        for c in cells:
            y = (labels or {}).get(str(c.get("data_sha256")))
            if id(c) in classes and y is not None and len(y) == len(classes[id(c)]):
                out.append((classes[id(c)], np.asarray(y)))
        return out

    traj = shifts.trajectory([(x.get("seed"), loss_array(x), loss_array(y)) for x, y in matched])
    return {
        "churn": churn,
        "churn_basis": basis,
        "churn_within": shifts.pooled_within(wa, wb),
        "churn_within_a": wa[0],
        "churn_within_b": wb[0],
        "per_class": shifts.per_class_shift(with_labels(a_cells), with_labels(b_cells)),
        "trajectory": traj,
    }


def decide(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give each row its verdict. The Welch p-values are Holm-adjusted over the rows that reach
    the tests (not over those already settled as bitwise-identical or numerically-equal, which
    keep p_adjusted None)."""
    tested = [r for r in rows if not (r["bitwise"] or r["metric_equal"])]
    for row, adj in zip(tested, stats.holm([r["p_value"] for r in tested]), strict=True):
        row["p_adjusted"] = adj
    for row in rows:
        row["verdict"], row["reason"] = _verdict(row)
        if row["verdict"] == Verdict.INCONCLUSIVE:
            row["seeds_needed"] = stats.seeds_needed(
                row["diff"], row["noise_floor"], row["margin"], alpha=row["alpha"]
            )
    return rows


def _verdict(r: dict[str, Any]) -> tuple[Verdict, str]:
    verdict, reason = _rung(r)
    if r.get("models_differ"):
        reason += f"; trained models that differ: {', '.join(r['models_differ'])}"
    return verdict, reason


def _rung(r: dict[str, Any]) -> tuple[Verdict, str]:
    alpha = r["alpha"]
    if r["bitwise"]:
        note = ""
        if not r["metric_equal"]:
            note = f"; {r['metric']} differs anyway (the evaluation, not training, differs)"
        what = f"of all {r['models']} trained models " if r.get("models", 0) > 1 else ""
        return Verdict.BITWISE_IDENTICAL, (
            f"final weights {what}identical for all {r['n_matched']} matching seed(s){note}"
        )
    if r["metric_equal"]:
        return Verdict.NUMERICALLY_EQUAL, (
            f"{r['metric']} equal within {RTOL:g} for all {r['n_matched']} matching seed(s); "
            f"final weights differ in {r['n_matched'] - r['identical_weights']}"
        )
    if r["tost_p"] is not None and r["tost_p"] < alpha:
        source = "" if r["margin_source"] == "given" else f" ({r['margin_source']})"
        return Verdict.EQUIVALENT, (
            f"TOST p={r['tost_p']:.3g} < {alpha:g} at margin ±{r['margin']:.3g}{source}"
        )
    if r["p_adjusted"] is not None and r["p_adjusted"] < alpha:
        return Verdict.DIFFERENT, (
            f"Welch p={r['p_value']:.3g}, Holm-adjusted {r['p_adjusted']:.3g} < {alpha:g}"
        )
    if min(r["n_a"], r["n_b"]) < 2:
        return Verdict.INCONCLUSIVE, "fewer than 2 ok seeds in a group: no noise floor to judge by"
    if r["p_value"] is None:
        return (
            Verdict.INCONCLUSIVE,
            "no seed-to-seed spread in either group: nothing to test against",
        )
    tost = f"{r['tost_p']:.3g}" if r["tost_p"] is not None else "n/a"
    return Verdict.INCONCLUSIVE, (
        f"neither equivalent (TOST p={tost}) nor different (adjusted p={r['p_adjusted']:.3g})"
    )
