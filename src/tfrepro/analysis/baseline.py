"""The upgrade gate: a baseline (small JSON, committed by the user) and `check` against it.

A baseline keeps, per group of the chosen axis, every ok cell's seed, defining settings,
final metrics and weight hashes, plus a summary of the fingerprints. `check` groups the current
cells the same way and compares each current group with its counterpart in the baseline (the
group with the same label, or the baseline's only group, or the one named with --group) using
the same verdict ladder as `compare`. Pure: the caller reads and writes the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from tfrepro.analysis import breaks, stats
from tfrepro.analysis.compare import compare_groups, decide, resolve_group
from tfrepro.analysis.groups import Cell, check_axis, group_cells, match_key, metric_names
from tfrepro.analysis.ladder import PASSING, Verdict
from tfrepro.errors import UsageError
from tfrepro.record import BASELINE_FIELDS, Status, final_weights_id, trained_models

FORMAT = "tfrepro-baseline"
FORMAT_VERSION = 1
_FINGERPRINT_FIELDS = (
    "tensorflow",
    "keras",
    "numpy",
    "python",
    "platform",
    "onednn",
    "environment",
)


def make(
    cells: Sequence[Cell], *, by: str, margin: float | None, created: str, version: str
) -> dict[str, Any]:
    """The baseline document for these cells (ok cells kept; failures only counted)."""
    check_axis(cells, by)
    if not any(c.get("status") == Status.OK for c in cells):
        raise UsageError("baseline save: the store has no ok cell to keep; run `tfrepro run` first")
    groups = []
    for label, members in group_cells(cells, by).items():
        ok = [c for c in members if c.get("status") == Status.OK]
        if not ok:
            continue
        metrics = {}
        for m in metric_names(ok):
            values = [float(c["metrics"][m]) for c in ok if m in (c.get("metrics") or {})]
            metrics[m] = {
                "mean": stats.mean(values),
                "std": stats.std(values),
                "n": len(values),
                "values": values,
            }
        groups.append(
            {
                "label": label,
                "n_ok": len(ok),
                "n_failed": len(members) - len(ok),
                "metrics": metrics,
                "final_hashes": {str(c.get("seed")): final_weights_id(c) for c in ok},
                "fingerprints": _fingerprints(ok),
                "cells": [_kept(c) for c in ok],
            }
        )
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "tfrepro_version": version,
        "created": created,
        "by": by,
        "margin": margin,
        "groups": groups,
    }


def _kept(cell: Cell) -> dict[str, Any]:
    """What a baseline keeps of a cell; of a script that trained several models, each model's
    hashes too (a check calls it identical only when every model is)."""
    kept = {k: cell.get(k) for k in BASELINE_FIELDS}
    models = trained_models(cell)
    if len(models) > 1:
        kept["script"] = {"models": models}
    return kept


def _fingerprints(cells: Sequence[Cell]) -> dict[str, list[str]]:
    out = {}
    for key in _FINGERPRINT_FIELDS:
        values = {str((c.get("fingerprint") or {}).get(key)) for c in cells}
        out[key] = sorted(values - {"None"})
    cpus = {str(((c.get("fingerprint") or {}).get("cpu") or {}).get("model")) for c in cells}
    out["cpu"] = sorted(cpus - {"None"})
    return out


def validate(data: dict[str, Any], source: str) -> dict[str, Any]:
    """The baseline itself, or a UsageError saying what is wrong with it."""

    def bad(what: str) -> UsageError:
        return UsageError(
            f"--baseline: '{source}' is not a usable tfrepro baseline ({what}); "
            f"recreate it with `tfrepro baseline save {source}`"
        )

    if data.get("format") != FORMAT:
        raise bad(f"'format' is {data.get('format')!r}, expected '{FORMAT}'")
    if data.get("format_version") != FORMAT_VERSION:
        raise bad(
            f"format_version {data.get('format_version')!r}, this tfrepro reads {FORMAT_VERSION}"
        )
    if not isinstance(data.get("by"), str):
        raise bad("no 'by' axis")
    groups = data.get("groups")
    if not isinstance(groups, list) or not groups:
        raise bad("no groups")
    for g in groups:
        if not isinstance(g, dict) or not isinstance(g.get("label"), str):
            raise bad("a group without a label")
        cells = g.get("cells")
        if not isinstance(cells, list) or not cells:
            raise bad(f"group '{g.get('label')}' has no cells")
        for c in cells:
            if not isinstance(c, dict) or not isinstance(c.get("metrics"), dict):
                raise bad(f"a cell of group '{g['label']}' has no metrics")
    margin = data.get("margin")
    if margin is not None and (not isinstance(margin, int | float) or margin <= 0):
        raise bad(f"margin {margin!r} is not a positive number")
    return data


@dataclass
class CheckResult:
    rows: list[dict[str, Any]]
    failures: list[dict[str, Any]] = field(default_factory=list)  # current cells not ok
    pairs: list[tuple[str, str]] = field(default_factory=list)  # (baseline group, current)

    @property
    def outcome(self) -> str:
        """'different' (a verdict says so, or a cell that was ok in the baseline failed),
        'inconclusive', or 'pass' (every verdict identical, equal or equivalent)."""
        if self.failures or any(r["verdict"] == Verdict.DIFFERENT for r in self.rows):
            return "different"
        if not self.rows or any(r["verdict"] not in PASSING for r in self.rows):
            return "inconclusive"
        return "pass"


def check(
    baseline: dict[str, Any],
    cells: Sequence[Cell],
    *,
    margin: float | None = None,
    group: str | None = None,
    alpha: float = 0.05,
) -> CheckResult:
    """Compare the current cells with the baseline, group by group."""
    by = baseline["by"]
    if not cells:
        raise UsageError("check: the store has no cells; run `tfrepro run` before `check`")
    check_axis(cells, by)
    margin = margin if margin is not None else baseline.get("margin")
    reference = {g["label"]: [_as_cell(c) for c in g["cells"]] for g in baseline["groups"]}
    names = sorted({m for g in baseline["groups"] for c in g["cells"] for m in c["metrics"]})
    labels = list(reference)
    result = CheckResult(rows=[])
    for label, members in group_cells(cells, by).items():
        if group is not None:
            ref = resolve_group(labels, group, "--group")
        elif label in reference:
            ref = label
        elif len(labels) == 1:
            ref = labels[0]
        else:
            raise UsageError(
                f"check: current group '{label}' has no counterpart among the baseline's groups "
                f"({', '.join(labels)}); name one with --group"
            )
        ok = [c for c in members if c.get("status") == Status.OK]
        known = {match_key(c, by) for c in reference[ref]}
        result.failures += [
            {
                "group": label,
                "seed": c.get("seed"),
                "status": c.get("status"),
                "reason": c.get("reason"),
                **breaks.failure_of(c),
            }
            for c in members
            if c.get("status") != Status.OK and match_key(c, by) in known
        ]
        result.pairs.append((ref, label))
        result.rows += compare_groups(
            reference[ref],
            ok,
            f"baseline {ref}",
            label,
            by=by,
            metrics=names,
            margin=margin,
            alpha=alpha,
        )
    decide(result.rows)
    return result


def _as_cell(saved: dict[str, Any]) -> Cell:
    """A baseline entry shaped like a store cell (no losses, no predictions)."""
    cell: dict[str, Any] = {k: saved.get(k) for k in BASELINE_FIELDS}
    cell.update(
        status=Status.OK,
        attempt=1,
        loss=[],
        arrays=None,
        knobs=saved.get("knobs") or {},
        env_vars=saved.get("env_vars") or {},
        script=saved.get("script"),  # several trained models: each one's hashes
    )
    return cast(Cell, cell)
