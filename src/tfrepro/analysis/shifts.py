"""Where two groups part ways beyond the top-line metric: prediction churn, per-class accuracy
and the loss trajectories of matching seeds. Pure numpy over arrays handed in."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

GAP_CURVE_POINTS = 500  # the loss-gap curve handed to the report is thinned to this many points


def predicted_classes(predictions: np.ndarray | None) -> np.ndarray | None:
    """Argmax class per example of a (examples, classes) array; None for regression outputs."""
    if predictions is None:
        return None
    p = np.asarray(predictions)
    if p.ndim != 2 or p.shape[1] < 2:
        return None
    return np.argmax(p, axis=1)


def _stack(classes: Sequence[np.ndarray]) -> np.ndarray | None:
    if not classes or len({len(c) for c in classes}) != 1:
        return None
    return np.stack(classes)


def cross_churn(
    a: Sequence[np.ndarray],
    b: Sequence[np.ndarray],
    matched: Sequence[tuple[np.ndarray, np.ndarray]],
) -> tuple[float | None, str | None]:
    """Share of test examples whose predicted class differs between the groups: averaged over
    matching seeds when there are any, else over every (a, b) pair of cells."""
    rates = [float(np.mean(x != y)) for x, y in matched if len(x) == len(y)]
    if rates:
        return float(np.mean(rates)), "matching seeds"
    sa, sb = _stack(a), _stack(b)
    if sa is None or sb is None or sa.shape[1] != sb.shape[1]:
        return None, None
    return float(np.mean(sa[:, None, :] != sb[None, :, :])), "all cross pairs"


def within_churn(classes: Sequence[np.ndarray]) -> tuple[float | None, int]:
    """Mean churn over every pair of cells of one group (seed-to-seed churn) and the number of
    pairs it averages."""
    s = _stack(classes)
    if s is None or len(s) < 2:
        return None, 0
    i, j = np.triu_indices(len(s), k=1)
    return float(np.mean(s[i] != s[j])), len(i)


def pooled_within(*parts: tuple[float | None, int]) -> float | None:
    total = sum(n for v, n in parts if v is not None)
    if not total:
        return None
    return sum(v * n for v, n in parts if v is not None) / total


def per_class_accuracy(classes: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Recall of every class (NaN for a class absent from the labels)."""
    hits = np.bincount(labels[classes == labels], minlength=n_classes).astype(float)
    support = np.bincount(labels, minlength=n_classes).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return hits / support


def per_class_shift(
    a: Sequence[tuple[np.ndarray, np.ndarray]], b: Sequence[tuple[np.ndarray, np.ndarray]]
) -> list[dict[str, Any]]:
    """Per class: mean accuracy (recall) in each group and the shift b - a.

    a, b: (predicted classes, true labels) of each cell of the group.
    """
    if not a or not b:
        return []
    labels = [lab for _, lab in (*a, *b)]
    if any(not np.issubdtype(lab.dtype, np.integer) or lab.min(initial=0) < 0 for lab in labels):
        return []
    n_classes = max(int(lab.max(initial=0)) for lab in labels) + 1
    acc_a = np.mean([per_class_accuracy(c, y, n_classes) for c, y in a], axis=0)
    acc_b = np.mean([per_class_accuracy(c, y, n_classes) for c, y in b], axis=0)
    support = np.bincount(labels[0], minlength=n_classes)
    return [
        {
            "class": k,
            "acc_a": float(acc_a[k]),
            "acc_b": float(acc_b[k]),
            "shift": float(acc_b[k] - acc_a[k]),
            "support": int(support[k]),
        }
        for k in range(n_classes)
        if support[k] and np.isfinite(acc_b[k] - acc_a[k])
    ]


def first_diff_step(a: np.ndarray, b: np.ndarray) -> int | None:
    """First step whose losses are not bitwise equal (a NaN equals a NaN; a missing step in one
    trajectory counts as a difference); None when the trajectories are identical."""
    n = min(len(a), len(b))
    same = (a[:n] == b[:n]) | (np.isnan(a[:n]) & np.isnan(b[:n]))
    if not same.all():
        return int(np.argmin(same))
    return None if len(a) == len(b) else n


def trajectory(pairs: Sequence[tuple[Any, np.ndarray, np.ndarray]]) -> dict[str, Any] | None:
    """Loss divergence of matching seeds.

    pairs: (seed, losses in a, losses in b) for every matching seed. Returns first_diff_step
    (earliest over the seeds; None when all identical), max_loss_gap (largest |a - b| at any
    step of any seed), n_seeds, per_seed [{seed, first_diff_step, max_loss_gap}] and
    gap_curve [[step, largest gap over the seeds]] thinned to at most GAP_CURVE_POINTS points
    (the maximum of each bucket, so spikes survive thinning).
    """
    pairs = [(s, x, y) for s, x, y in pairs if len(x) and len(y)]
    if not pairs:
        return None
    width = max(min(len(x), len(y)) for _, x, y in pairs)
    gaps = np.full((len(pairs), width), -np.inf)
    per_seed = []
    for i, (seed, x, y) in enumerate(pairs):
        n = min(len(x), len(y))
        with np.errstate(invalid="ignore"):
            gap = np.abs(x[:n] - y[:n])
        finite = gap[np.isfinite(gap)]
        gaps[i, :n] = np.where(np.isfinite(gap), gap, -np.inf)
        per_seed.append(
            {
                "seed": seed,
                "first_diff_step": first_diff_step(x, y),
                "max_loss_gap": float(finite.max()) if finite.size else None,
            }
        )
    firsts = [s["first_diff_step"] for s in per_seed if s["first_diff_step"] is not None]
    peaks = [s["max_loss_gap"] for s in per_seed if s["max_loss_gap"] is not None]
    return {
        "first_diff_step": min(firsts) if firsts else None,
        "max_loss_gap": max(peaks) if peaks else None,
        "n_seeds": len(pairs),
        "per_seed": per_seed,
        "gap_curve": _thin(gaps.max(axis=0)),
    }


def _thin(curve: np.ndarray) -> list[list[float]]:
    bucket = max(1, math.ceil(len(curve) / GAP_CURVE_POINTS))
    out: list[list[float]] = []
    for start in range(0, len(curve), bucket):
        chunk = curve[start : start + bucket]
        peak = float(chunk.max())
        if math.isfinite(peak):
            out.append([start + int(np.argmax(chunk)), peak])
    return out
