"""Which packages and settings differ between groups of cells.

Every recorded cell carries its environment (package lock, interpreter, Keras and numpy
versions, knobs and how they were applied, oneDNN state, CPU). This lists, per group, the
values each setting takes and keeps only the settings whose values are not the same in every
group, so the reader sees what changed along with the results. It compares values; it
computes no statistics.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Cell = Mapping[str, Any]
MISSING = "—"


@dataclass(frozen=True)
class DiffRow:
    """One setting: its value in each group (in group order), and which groups differ.

    `values[i]` is the single value of group i, several values joined with " | " when the
    group's own cells disagree (`mixed[i]`), or MISSING when none of its cells recorded it.
    `changed[i]` is true when group i's value differs from the first group's.
    """

    kind: str
    name: str
    values: tuple[str, ...]
    mixed: tuple[bool, ...]
    changed: tuple[bool, ...]


@dataclass(frozen=True)
class EnvDiff:
    settings: list[DiffRow]
    packages: list[DiffRow]
    same_packages: int  # packages with one version everywhere


def _text(value: Any) -> str:
    if value is None or value == "":
        return MISSING
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _onednn(cell: Cell) -> Any:
    fp = cell.get("fingerprint") or {}
    enabled = fp.get("onednn_enabled")
    if enabled is None:
        enabled = fp.get("onednn_log_says_on")
    if isinstance(enabled, bool):
        return "on" if enabled else "off"
    return enabled


def _cpu(cell: Cell) -> Any:
    cpu = (cell.get("fingerprint") or {}).get("cpu")
    return cpu.get("model") if isinstance(cpu, dict) else cpu


def _packages(cell: Cell) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (cell.get("fingerprint") or {}).get("packages") or []:
        name, sep, version = str(line).partition("==")
        if sep:
            out[name.strip().lower()] = version.strip()
        elif name.strip():
            out[name.strip().lower()] = name.strip()  # a direct reference: keep the whole line
    return out


def _getters(cells: Sequence[Cell]) -> list[tuple[str, str, Callable[[Cell], Any]]]:
    """(kind, name, getter) for every setting any cell recorded."""
    fixed: list[tuple[str, str, Callable[[Cell], Any]]] = [
        ("version", "TensorFlow", lambda c: c.get("tf_version")),
        ("version", "Python", lambda c: c.get("python_version")),
        ("version", "Keras", lambda c: c.get("keras_version")),
        ("version", "numpy", lambda c: c.get("numpy_version")),
        ("setting", "oneDNN (as TF reports it)", _onednn),
        ("setting", "CPU model", _cpu),
        ("setting", "optimizer class", lambda c: c.get("optimizer_class")),
    ]
    out = list(fixed)
    sources: list[tuple[str, Callable[[Cell], dict[str, Any]]]] = [
        ("knob", lambda c: c.get("knobs") or {}),
        ("knob applied", lambda c: c.get("knobs_applied") or {}),
        ("env var", lambda c: c.get("env_vars") or {}),
        ("TF env", lambda c: (c.get("fingerprint") or {}).get("tf_env") or {}),
    ]
    for kind, get in sources:
        names = sorted({k for c in cells for k in get(c)})
        out += [(kind, k, _item(get, k)) for k in names]
    return out


def _item(get: Callable[[Cell], dict[str, Any]], key: str) -> Callable[[Cell], Any]:
    return lambda c: get(c).get(key)


def _row(
    kind: str, name: str, groups: Sequence[Sequence[Cell]], get: Callable[[Cell], Any]
) -> DiffRow | None:
    per_group = [sorted({_text(get(c)) for c in cells} - {MISSING}) for cells in groups]
    if len({tuple(v) for v in per_group}) <= 1:
        return None  # the same in every group (e.g. PYTHONHASHSEED following the seed)
    values = tuple(" | ".join(v) if v else MISSING for v in per_group)
    return DiffRow(
        kind,
        name,
        values,
        tuple(len(v) > 1 for v in per_group),
        tuple(v != values[0] for v in values),
    )


def env_diff(groups: Sequence[Sequence[Cell]]) -> EnvDiff:
    """Settings and packages that differ between (or inside) the given groups of cells."""
    everything = [c for cells in groups for c in cells]
    settings = [
        r
        for kind, name, get in _getters(everything)
        if (r := _row(kind, name, groups, get)) is not None
    ]
    locks = [[_packages(c) for c in cells] for cells in groups]
    names = sorted({n for group in locks for lock in group for n in lock})
    packages: list[DiffRow] = []
    for name in names:
        flat = [[{"v": lock.get(name)} for lock in group] for group in locks]
        row = _row("package", name, flat, lambda d: d["v"])
        if row is not None:
            packages.append(row)
    return EnvDiff(settings, packages, len(names) - len(packages))
