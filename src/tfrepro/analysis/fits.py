"""Which fit call of a script explain probes: the one asked for, or the first fit of the first
model whose final weights differ between the two sides' stored cells. Pure."""

from __future__ import annotations

from typing import Any, Protocol

from tfrepro.errors import UsageError
from tfrepro.record import CellRecord, Status, models_that_differ, trained_models


class Side(Protocol):
    """What is read of a side's planned cell (tfrepro.plan.Cell)."""

    @property
    def id(self) -> str: ...

    @property
    def tf_version(self) -> str: ...

    @property
    def seed(self) -> int: ...


def probe_target(
    stored: list[CellRecord], a: Side, b: Side, fit: int | None, model: str | None
) -> dict[str, Any]:
    """Which fit call of a script to probe (1-based) and why: the one asked for (--fit), the
    first fit of the model asked for (--model), else the first fit of the first model whose
    final weights differ between A's and B's stored cells, else the first fit."""
    if fit is not None:
        return {"fit": fit, "model": None, "why": f"--fit {fit}"}
    cells = {c["id"]: c for c in stored if c.get("status") == Status.OK}
    ca, cb = cells.get(a.id), cells.get(b.id)
    if model is not None:
        seen = ca or cb
        found = _first_fit_of(seen, model) if seen is not None else None
        if found is None:
            raise UsageError(
                f"--model {model}: no stored cell of this script shows a fit of a model named "
                f"'{model}'; run the script first (`tfrepro run --tf {a.tf_version} --seeds "
                f"{a.seed} -- …`) or give --fit N"
            )
        return {"fit": found, "model": model, "why": f"the first fit of model '{model}'"}
    if ca is None or cb is None:
        return {"fit": 1, "model": None, "why": "the first fit (no stored cells of A and B to "
                "say which model differs)"}  # fmt: skip
    differ = models_that_differ(ca, cb)
    found = _first_fit_of(ca, differ[0]) if differ else None
    if found is None:
        return {"fit": 1, "model": None, "why": "the first fit"}
    return {
        "fit": found,
        "model": differ[0],
        "why": f"the first fit of '{differ[0]}', the first model whose final weights differ "
        f"between A's and B's stored cells (models that differ: {', '.join(differ)})",
    }


def _first_fit_of(cell: CellRecord, name: str) -> int | None:
    """1-based index of the first fit call on the model named `name` in a script cell."""
    models = trained_models(cell)
    index = next((i for i, m in enumerate(models) if m.get("name") == name), None)
    fits = (cell.get("script") or {}).get("data") or []
    for n, entry in enumerate(fits, 1):
        if index is not None and entry.get("model") == index:
            return n
    return None
