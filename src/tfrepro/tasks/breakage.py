"""Explain a break: a script that runs on one side of `explain A B` and fails on the other.

Before probing a script, explain runs (or finds in the store) the plain cells of A and B at the
seed. When one side fails, there is nothing to probe on it; this task says instead how it
fails (its signature and the known break it matches) and what makes it run: the failing side
again with the changes that commonly make old code run — `legacy_keras = true` (Keras 2 as
tf_keras on TF 2.16+), `numpy<2` (where its environment has NumPy 2), the other side's Keras 3
(on a Keras 2 release, or an older Keras 3), `optimizer_impl = legacy` (TF 2.11-2.15)
— one at a time, then in pairs when none runs alone. Every "runs with" is a cell that ran, in
the store with the others; for a variant that runs, its final weights and metrics are set
against the other side's cell (bitwise identical, metrics equal, or how far apart on this one
seed).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from tfrepro import spec as spec_mod
from tfrepro.analysis import breaks
from tfrepro.analysis.compare import ATOL, RTOL  # metrics "equal": the numerically-equal rung
from tfrepro.envs import capabilities
from tfrepro.envs.catalogue import version_key
from tfrepro.envs.request import EnvRequest
from tfrepro.errors import TfreproError
from tfrepro.execute.cellrun import Outcome
from tfrepro.plan import Cell
from tfrepro.record import CellRecord, Status, final_weights_id
from tfrepro.spec import Spec
from tfrepro.tasks.planning import Options, Planned, make_plan
from tfrepro.tasks.run import execute, stored


class _Said:
    """A run Reporter that turns cell progress into explain's one-line status."""

    def __init__(self, say: Callable[[str], object]) -> None:
        self.say = say

    def planned(self, total: int, todo: int, envs: int) -> None:
        pass

    def env_started(self, env: EnvRequest, cached: bool) -> None:
        if not cached:
            self.say(f"building TF {env.tf_version} ({env.name})")

    def env_done(self, env: EnvRequest, error: str | None) -> None:
        pass

    def cell_started(self, cell: Cell) -> None:
        self.say(f"running {cell.describe()}")

    def cell_done(self, cell: Cell, outcome: Outcome) -> None:
        pass

    def cell_elsewhere(self, cell: Cell) -> None:
        pass


def run_cell(planned: Planned, opts: Options, say: Callable[[str], object]) -> CellRecord:
    """The plan's one cell, run unless the store has it already; its stored record."""
    ids = set(execute(planned, opts, _Said(say)))
    found = stored(opts.store, ids)
    if not found:  # execute records every cell it plans, failed or not
        raise RuntimeError(f"cell {planned.cells[0].id} was not recorded")
    return found[0]


@dataclass
class Variant:
    name: str  # e.g. "legacy_keras", "numpy<2 + legacy_keras"
    knobs: dict[str, Any]  # knob settings over the failing side's
    requirements: list[str]
    keras: str | None


def variants(failing: CellRecord, other: CellRecord) -> list[Variant]:
    """The single changes worth trying on the failing side's release, in the order of
    breaks.REMEDIES: each only where it means something there."""
    tf, knobs = failing["tf_version"], failing.get("knobs") or {}
    out = []
    if capabilities.has(tf, "keras3") and not knobs.get("legacy_keras"):
        out.append(Variant("legacy_keras", {"legacy_keras": True}, [], None))
    if _major(failing.get("numpy_version")) >= 2:
        out.append(Variant("numpy<2", {}, ["numpy<2"], None))
    # the other side's own Keras 3 (Keras 3 supports TensorFlow 2.15 and later): a Keras 3
    # script on a Keras 2 release, or a script written for an older Keras 3
    version = str(other.get("keras_version") or "")
    newer_keras3 = _major(version) == 3 and version != failing.get("keras_version")
    if newer_keras3 and version_key(tf) >= (2, 15):
        out.append(Variant(f"keras=={version}", {}, [], version))
    legacy_opt = (2, 11) <= version_key(tf) < (2, 16) and knobs.get("optimizer_impl") != "legacy"
    if legacy_opt and version_key(other["tf_version"]) < (2, 11):
        out.append(Variant("optimizer_impl=legacy", {"optimizer_impl": "legacy"}, [], None))
    return out


def _major(version: Any) -> int:
    parts = version_key(str(version or ""))
    return parts[0] if parts else 0


def combine(a: Variant, b: Variant) -> Variant:
    return Variant(
        f"{a.name} + {b.name}",
        {**a.knobs, **b.knobs},
        a.requirements + b.requirements,
        a.keras or b.keras,
    )


def _variant_spec(side: Spec, v: Variant) -> Spec:
    raw = spec_mod.dump(side)
    matrix = raw["matrix"]
    for knob, value in v.knobs.items():
        matrix["knobs"][knob] = [value]
    matrix["requirements"] = [*matrix.get("requirements", []), *v.requirements]
    if v.keras:
        matrix["keras"] = [v.keras]
    return spec_mod.from_dict(raw, origin="explain", base_dir=side.base_dir)


def against(other: CellRecord, cell: CellRecord) -> dict[str, Any]:
    """Two cells on one seed (a: the other side, b: the variant, or the reverse): the final
    weights (identical, differ, unknown) and every metric both recorded, with b - a."""
    wa, wb = final_weights_id(other), final_weights_id(cell)
    weights = "unknown" if not (wa and wb) else "identical" if wa == wb else "differ"
    ma, mb = other.get("metrics") or {}, cell.get("metrics") or {}
    shared = sorted(set(ma) & set(mb))
    diffs = {m: {"a": ma[m], "b": mb[m], "diff": mb[m] - ma[m]} for m in shared}
    equal = bool(shared) and all(
        math.isclose(ma[m], mb[m], rel_tol=RTOL, abs_tol=ATOL) for m in shared
    )
    if weights == "identical":
        verdict = "bitwise-identical"
    elif equal:
        verdict = "numerically-equal"
    else:
        verdict = "differs on this seed"
    return {"verdict": verdict, "weights": weights, "metrics": diffs}


@dataclass
class BreakResult:
    """`explain A B` when one side does not run: how it fails and what makes it run."""

    a: str
    b: str
    seed: int
    failing: str  # "A" or "B"
    sides: dict[str, dict[str, Any]]  # per side: tf, keras, numpy, status, failure (if any)
    failure: dict[str, Any]  # breaks.failure_of() the failing side
    variants: list[dict[str, Any]]  # per variant tried: name, status, failure or comparison
    runs_with: list[str]  # the variants that ran, fewest changes first
    seconds: float
    kind: str = "break"

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _side(cell: CellRecord) -> dict[str, Any]:
    out = {
        "tf": cell["tf_version"],
        "keras": cell.get("keras_version"),
        "numpy": cell.get("numpy_version"),
        "status": cell["status"],
        "cell": cell["id"],
    }
    if cell["status"] != Status.OK:
        out["failure"] = breaks.failure_of(cell)["describe"]
    return out


def explain_break(
    a_text: str,
    b_text: str,
    seed: int,
    cells: dict[str, CellRecord],
    specs: dict[str, Spec],
    opts: Options,
    say: Callable[[str], object],
) -> BreakResult:
    """`cells`/`specs`: "A" and "B" → that side's stored cell and one-cell spec; one of the
    cells failed (FAILED with a traceback or reason; a timeout is not a break)."""
    start = time.monotonic()
    failing = "B" if cells["B"]["status"] == Status.FAILED else "A"
    other = "A" if failing == "B" else "B"
    bad, good = cells[failing], cells[other]
    tried: list[dict[str, Any]] = []
    runs_with: list[str] = []

    def attempt(v: Variant) -> bool:
        say(f"{failing} with {v.name}")
        row: dict[str, Any] = {"variant": v.name}
        try:
            planned = make_plan(_variant_spec(specs[failing], v), opts)
            cell = run_cell(planned, opts, say)
        except TfreproError as exc:  # a pin that cannot resolve, a spec it cannot make
            row.update(status="cannot run", reason=str(exc)[:300])
            tried.append(row)
            return False
        row.update(
            status=cell["status"],
            tf=cell["tf_version"],
            keras=cell.get("keras_version"),
            numpy=cell.get("numpy_version"),
            cell=cell["id"],
        )
        if cell["status"] != Status.OK and not breaks.script_failed(cell):
            # its environment did not build (a pin this TensorFlow refuses) or it timed out
            row.update(status="cannot run", reason=str(cell.get("reason") or "")[:300])
            tried.append(row)
            return False
        if cell["status"] == Status.OK:
            row["compared_with"] = other  # b - a: the variant minus A, or B minus the variant
            row["comparison"] = against(good, cell) if failing == "B" else against(cell, good)
            runs_with.append(v.name)
        else:
            row["failure"] = breaks.failure_of(cell)
        tried.append(row)
        return cell["status"] == Status.OK

    singles = variants(bad, good)
    ran = [attempt(v) for v in singles]
    if not any(ran):  # pairs of the singles that could run at all (built, did not time out)
        usable = [v for v, row in zip(singles, tried, strict=True) if row["status"] != "cannot run"]
        for x, y in itertools.combinations(usable, 2):
            attempt(combine(x, y))
    return BreakResult(
        a=a_text,
        b=b_text,
        seed=seed,
        failing=failing,
        sides={"A": _side(cells["A"]), "B": _side(cells["B"])},
        failure=breaks.failure_of(bad),
        variants=tried,
        runs_with=runs_with,
        seconds=round(time.monotonic() - start, 1),
    )
