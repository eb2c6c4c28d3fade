"""Grouping cells along an axis, matching seeds across groups, and per-group summaries.

An axis is a cell field (`tf_version`, `keras_version`, `python_version`, `numpy_version`,
`keras_pin`, `attempt`), a knob (`onednn`, `threads`, …) or an environment variable of the
matrix. Two cells of different groups *match* when everything that defines them agrees except
the axis: same experiment, seed, knobs, environment variables, and — unless the axis is a
version — the same TensorFlow release and Keras pin.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from tfrepro.analysis import stats
from tfrepro.errors import UsageError
from tfrepro.record import CellRecord as Cell
from tfrepro.record import Status, final_weights_id

CELL_AXES = (
    "tf_version",
    "keras_version",
    "python_version",
    "numpy_version",
    "keras_pin",
    "attempt",
)
# Axes that follow from the TensorFlow release and Keras pin: grouping by one of them matches
# cells across releases.
_DERIVED = ("keras_version", "python_version", "numpy_version")
UNSET = "unset"


def axes(cells: Iterable[Cell]) -> list[str]:
    """Every axis these cells can be grouped by."""
    knobs = {k for c in cells for k in c.get("knobs", {})}
    env = {k for c in cells for k in c.get("env_vars", {})}
    return [*CELL_AXES, *sorted(knobs), *sorted(env - knobs)]


def check_axis(cells: Sequence[Cell], by: str) -> None:
    known = axes(cells)
    if by not in known:
        raise UsageError(
            f"--by: '{by}' is not an axis of these cells; choose one of {', '.join(known)}"
        )


def axis_value(cell: Cell, by: str) -> Any:
    if by in CELL_AXES:
        return cell.get(by)
    knobs = cell.get("knobs") or {}
    if by in knobs:
        return knobs[by]
    return (cell.get("env_vars") or {}).get(by)


def label(value: Any) -> str:
    if value is None:
        return UNSET
    if isinstance(value, str):
        return value
    return json.dumps(value)


def sort_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Natural order, so that 2.9 comes before 2.15 and 1.15 before both."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.findall(r"\d+|\D+", text))


def group_cells(cells: Iterable[Cell], by: str) -> dict[str, list[Cell]]:
    """Cells (every status) by axis label, in natural order of the labels."""
    out: dict[str, list[Cell]] = {}
    for c in cells:
        out.setdefault(label(axis_value(c, by)), []).append(c)
    return {k: out[k] for k in sorted(out, key=sort_key)}


def match_key(cell: Cell, by: str) -> tuple[Any, ...]:
    """What must agree for two cells of different groups to count as the same seed."""
    if by == "attempt":
        return (cell.get("id"),)
    skip = {by, "tf_version", "keras_pin"} if by in _DERIVED else {by}
    knobs = sorted(
        (k, json.dumps(v)) for k, v in (cell.get("knobs") or {}).items() if k not in skip
    )
    env = sorted((k, v) for k, v in (cell.get("env_vars") or {}).items() if k not in skip)
    return (
        cell.get("experiment"),
        cell.get("seed"),
        None if "tf_version" in skip else cell.get("tf_version"),
        None if "keras_pin" in skip else cell.get("keras_pin"),
        tuple(knobs),
        tuple(env),
    )


def metric_names(cells: Iterable[Cell]) -> list[str]:
    return sorted({m for c in cells for m in (c.get("metrics") or {})})


def metric_values(cells: Iterable[Cell], metric: str) -> list[float]:
    out = []
    for c in cells:
        v = (c.get("metrics") or {}).get(metric)
        if isinstance(v, int | float) and math.isfinite(v):
            out.append(float(v))
    return out


def loss_array(cell: Cell) -> np.ndarray:
    """The per-step losses as float64; a stored null (NaN/inf) becomes NaN."""
    return np.array(cell.get("loss") or [], dtype=float)


def loss_band(arrays: Sequence[np.ndarray]) -> tuple[list[float | None], list[float | None]]:
    """Mean and standard deviation across cells at every step (cells of different lengths are
    padded with NaN; a step with no finite loss is None)."""
    if not arrays or not max(len(a) for a in arrays):
        return [], []
    width = max(len(a) for a in arrays)
    grid = np.full((len(arrays), width), np.nan)
    for i, a in enumerate(arrays):
        grid[i, : len(a)] = a
    grid[~np.isfinite(grid)] = np.nan
    with stats._quiet():
        mean = np.nanmean(grid, axis=0)
        std = np.nanstd(grid, axis=0, ddof=1) if len(arrays) > 1 else np.zeros(width)
    return _listify(mean), _listify(std)


def _listify(a: np.ndarray) -> list[float | None]:
    return [float(x) if math.isfinite(x) else None for x in a.tolist()]


def group_summary(cells: Sequence[Cell], by: str = "tf_version") -> list[dict[str, Any]]:
    """Per group: counts, per-metric distribution, distinct final weights, the loss band.

    Keys: axis, label, n_ok, n_failed, statuses, seeds, tf_versions, keras_versions,
    python_versions, metrics {name: {mean, std, n, values, seeds}}, distinct_final_hashes,
    final_hashes [{seed, sha256}], loss_mean, loss_std (per step, over ok cells).
    """
    check_axis(cells, by)
    names = metric_names(c for c in cells if c.get("status") == Status.OK)
    out = []
    for lab, members in group_cells(cells, by).items():
        ok = [c for c in members if c.get("status") == Status.OK]
        metrics: dict[str, Any] = {}
        for m in names:
            with_m = [c for c in ok if m in (c.get("metrics") or {})]
            values = metric_values(with_m, m)
            metrics[m] = {
                "mean": stats.mean(values),
                "std": stats.std(values),
                "n": len(values),
                "values": values,
                "seeds": [c.get("seed") for c in with_m],
            }
        hashes = [final_weights_id(c) for c in ok]
        mean, std = loss_band([loss_array(c) for c in ok])
        out.append(
            {
                "axis": by,
                "label": lab,
                "n_ok": len(ok),
                "n_failed": len(members) - len(ok),
                "statuses": dict(Counter(c.get("status") for c in members)),
                "seeds": sorted({int(c["seed"]) for c in ok if c.get("seed") is not None}),
                "tf_versions": _distinct(members, "tf_version"),
                "keras_versions": _distinct(members, "keras_version"),
                "python_versions": _distinct(members, "python_version"),
                "metrics": metrics,
                "distinct_final_hashes": len({h for h in hashes if h}),
                "final_hashes": [
                    {"seed": c.get("seed"), "sha256": c.get("final_weights_sha256")} for c in ok
                ],
                "loss_mean": mean,
                "loss_std": std,
            }
        )
    return out


def _distinct(cells: Iterable[Cell], key: str) -> list[str]:
    return sorted({str(c.get(key)) for c in cells if c.get(key)}, key=sort_key)
