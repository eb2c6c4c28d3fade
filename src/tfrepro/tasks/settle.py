"""`tfrepro run --until-settled`: seeds added in rounds until every comparison settles.

Round 1 runs `design.first` seeds in every group (release, or the values of the `--by` axis);
after each round, compare (analysis/compare) gives every (pair, metric) its statistics and the
sequential design (analysis/sequential) decides: bitwise-identical or numerically-equal when
every matched seed agrees, different or equivalent when a test crosses its boundary at this
look, else open. Only the groups that still have an open comparison get the next round; it
ends when nothing is open or at `max_seeds` (what is still open is then inconclusive). Each
round is an ordinary run (cells go to the store: an interrupted settle resumes, and `compare`
sees the cells), on the warm workers.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tfrepro.analysis import baseline, breaks, compare, groups, sequential, stats
from tfrepro.analysis.ladder import Verdict
from tfrepro.errors import UsageError
from tfrepro.plan import Cell
from tfrepro.record import CellRecord
from tfrepro.spec import Spec
from tfrepro.tasks.bisect import with_matrix
from tfrepro.tasks.planning import Options, make_plan
from tfrepro.tasks.run import Reporter, execute, stored


class Against(NamedTuple):
    """`check --until-settled`: the baseline (file name, document) and the group named with
    --group (None: each group's own label)."""

    source: str
    data: dict[str, Any]
    group: str | None = None


@dataclass
class SettleResult:
    """The design, the path of every look and the verdicts it stopped at."""

    by: str
    design: dict[str, Any]  # sequential.Design.as_dict()
    looks: list[dict[str, Any]]  # per look: seeds per group and each comparison's state
    rows: list[dict[str, Any]]  # compare's rows of the final look, verdict = the sequential one
    trainings: int  # cells this settle trained or found in the store
    fixed_trainings: int  # the fixed design tfrepro recommends: recommended_seeds() per group
    status: str  # "settled" (nothing open), "budget" (max_seeds reached with some open),
    # "failed" (a group had no ok cell in its first round: nothing to compare it with) or
    # "no metric" (the ok cells record no final metric: nothing to test)
    seconds: float
    failed_groups: list[str] = field(default_factory=list)
    failures: list[breaks.Failure] = field(default_factory=list)  # failed cells by signature
    against: str | None = None  # `check --until-settled`: the baseline file compared with
    outcome: str | None = None  # and check's outcome: pass / different / inconclusive

    def as_dict(self) -> dict[str, Any]:
        """What --json prints and the store keeps (beside explain's results, whose a, b and
        seed columns it fills with what it compared: every group on the `by` axis)."""
        out = dataclasses.asdict(self)
        a = f"check against {self.against}" if self.against else "until settled"
        return {"kind": "settle", "a": a, "b": self.by, "seed": -1, **out}


def cell_label(cell: Cell, by: str) -> str:
    """A planned cell's group label on the `by` axis (as analysis.groups labels a record)."""
    if by == "tf_version":
        return cell.tf_version
    if by in cell.knobs:
        return groups.label(cell.knobs[by])
    env = dict(cell.env_vars)
    if by in env:
        return env[by]
    raise UsageError(
        f"--until-settled: '{by}' is not an axis of this experiment's cells; group by "
        f"tf_version, a knob or an environment variable of the spec"
    )


def settle(
    spec: Spec,
    opts: Options,
    reporter: Callable[[], AbstractContextManager[Reporter]],
    design: sequential.Design,
    *,
    by: str = "tf_version",
    metrics: list[str] | None = None,
    margin: float | None = None,
    progress: Callable[[str], object] | None = None,
    against: Against | None = None,
) -> SettleResult:
    """Rounds until every comparison settles: between the groups of the experiment, or (with
    `against`, a baseline's name and document: `check --until-settled`) between each group
    and its baseline group, which keeps its seeds (design.reference)."""
    say = progress or (lambda msg: None)
    start = time.monotonic()
    seeds = list(range(design.max_seeds))
    if against is not None:
        by = against.data["by"]
        design.reference = min(g["n_ok"] for g in against.data["groups"])
    planned = make_plan(with_matrix(spec, seeds=seeds[: design.first]), opts)
    labels = sorted({cell_label(c, by) for c in planned.cells}, key=groups.sort_key)
    if against is None and len(labels) < 2:
        raise UsageError(
            f"--until-settled compares groups, and this experiment has one {by} "
            f"({', '.join(labels) or 'none'}): give two releases or more (--tf 2.15,2.16)"
        )
    active, ids = set(labels), set()
    failed: list[str] = []
    looks: list[dict[str, Any]] = []
    settled: dict[tuple[str, str, str], dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    cells: list[CellRecord] = []
    for look, n in enumerate(design.seeds):
        planned = make_plan(with_matrix(spec, seeds=seeds[:n]), opts)
        planned.cells = [c for c in planned.cells if cell_label(c, by) in active]
        say(f"round {look + 1}: {n} seeds in {', '.join(sorted(active, key=groups.sort_key))}")
        with reporter() as round_reporter:  # one progress display per round
            ids.update(execute(planned, opts, round_reporter))
        cells = stored(opts.store, ids)
        checked = None
        if against is None:
            rows = compare.compare_cells(
                cells, by=by, metrics=metrics, margin=margin, alpha=design.alpha
            )
        else:
            checked = baseline.check(
                against.data, cells, margin=margin, group=against.group, alpha=design.alpha
            )
            rows = checked.rows
        if look == 0:
            design.comparisons = max(len(rows), 1)  # fixed at the first look (Bonferroni)
            ran_ok = {groups.label(groups.axis_value(c, by)) for c in cells if c["status"] == "ok"}
            failed = [g for g in labels if g not in ran_ok]
        state = []
        for r in rows:
            key = (r["a"], r["b"], r["metric"])
            if key not in settled:
                got = sequential.decide(r, look, design)
                if got is not None:
                    settled[key] = {"verdict": got, "look": look + 1, "seeds": n}
            state.append(_state(r, settled.get(key), look, design))
        looks.append({"look": look + 1, "seeds": n, "groups": sorted(active), "rows": state})
        open_rows = [s for s in state if s["verdict"] == "open"]
        active = {g for s in open_rows for g in (s["a"], s["b"])}
        say(_round_line(look, state))
        if not active:
            break
    final = _final(rows, settled)
    inconclusive = any(r["verdict"] == Verdict.INCONCLUSIVE for r in final)
    outcome = None
    if checked is not None:
        outcome = baseline.CheckResult(rows=final, failures=checked.failures).outcome
    return SettleResult(
        by=by,
        design=design.as_dict(),
        looks=looks,
        rows=final,
        trainings=len(ids),
        fixed_trainings=stats.recommended_seeds() * len(labels) * _per_seed(planned, by),
        status="failed"
        if failed
        else "no metric"
        if not final
        else "budget"
        if inconclusive
        else "settled",
        seconds=round(time.monotonic() - start, 1),
        failed_groups=failed,
        failures=breaks.group_failures(cells, by=by),  # the last round read every cell
        against=against.source if against else None,
        outcome=outcome,
    )


def _per_seed(planned: Any, by: str) -> int:
    """Cells per (group, seed) — other axes of the matrix multiply the trainings."""
    per: dict[tuple[str, int], int] = {}
    for c in planned.cells:
        per[(cell_label(c, by), c.seed)] = per.get((cell_label(c, by), c.seed), 0) + 1
    return max(per.values(), default=1)


def _round_line(look: int, state: list[dict[str, Any]]) -> str:
    """After a round: how many comparisons settled, and each open one with its p-values
    against this look's level."""
    done = [s for s in state if s["verdict"] != "open"]
    parts = [f"round {look + 1}: {len(done)} of {len(state)} settled"]
    for s in state:
        if s["verdict"] == "open":
            parts.append(
                f"open {s['a']} → {s['b']} {s['metric']} (p {_p(s['p_value'])}, TOST p "
                f"{_p(s['tost_p'])}; level {s['level']:.3g})"
            )
    return "; ".join(parts)


def _p(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


def _state(
    r: dict[str, Any], done: dict[str, Any] | None, look: int, design: sequential.Design
) -> dict[str, Any]:
    return {
        "a": r["a"],
        "b": r["b"],
        "metric": r["metric"],
        "n": min(r["n_a"], r["n_b"]),
        "p_value": r["p_value"],
        "tost_p": r["tost_p"],
        "level": design.levels()[look],
        "verdict": done["verdict"] if done else "open",
    }


def _final(rows: list[dict[str, Any]], settled: dict[tuple[str, str, str], Any]) -> list[Any]:
    """The last look's rows, each with the verdict it settled at (and when), else
    inconclusive."""
    out = []
    for r in rows:
        done = settled.get((r["a"], r["b"], r["metric"]))
        verdict = done["verdict"] if done else str(Verdict.INCONCLUSIVE)
        reason = (
            f"settled at look {done['look']} ({done['seeds']} seeds per group)"
            if done
            else "still open at the last look (max seeds reached)"
        )
        out.append({**r, "verdict": verdict, "reason": reason, "settled": done})
    return out


def sequential_of(kept: list[dict[str, Any]], by: str) -> dict[tuple[str, str, str], Any]:
    """From the store's explanations: what the latest `run --until-settled` by this axis
    decided for each (a, b, metric), with its design and the comparison's path over the looks
    (compare --json carries it beside the fixed-sample verdict)."""
    runs = [e for e in kept if e.get("kind") == "settle" and not e.get("against")]
    latest = next((e for e in runs if e.get("b") == by), None)  # newest first
    if latest is None:
        return {}
    out = {}
    for r in latest["rows"]:
        key = (r["a"], r["b"], r["metric"])
        path = [
            {"look": look["look"], "seeds": look["seeds"], **_path_step(s)}
            for look in latest["looks"]
            for s in look["rows"]
            if (s["a"], s["b"], s["metric"]) == key
        ]
        out[key] = {
            "verdict": r["verdict"],
            "settled": r.get("settled"),
            "status": latest["status"],
            "created": latest.get("created"),
            "trainings": latest["trainings"],
            "design": latest["design"],
            "path": path,
        }
    return out


def _path_step(state: dict[str, Any]) -> dict[str, Any]:
    return {k: state[k] for k in ("n", "p_value", "tost_p", "level", "verdict")}
