"""Everything a report shows, gathered once: cells from the store, verdicts and group
summaries from the analysis. The HTML, Markdown and terminal renderers read only this.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from tfrepro.analysis import compare, groups, load
from tfrepro.errors import UsageError
from tfrepro.record import CellRecord as Cell
from tfrepro.record import Status
from tfrepro.store import Store


@dataclass
class Group:
    label: str
    index: int  # colour slot, the same in every figure and table
    cells: list[Cell]
    summary: dict[str, Any]  # one entry of analysis.groups.group_summary


@dataclass
class ReportData:
    title: str
    store: str
    by: str
    generated: str
    cells: list[Cell]
    groups: list[Group]
    comparisons: list[dict[str, Any]]
    metrics: list[str]
    reference: str | None = None  # the group loss gaps are drawn against
    runs: list[dict[str, Any]] = field(default_factory=list)  # that recorded these cells
    explanations: list[dict[str, Any]] = field(default_factory=list)  # Store.explanations()

    @property
    def failed(self) -> list[Cell]:
        return [c for c in self.cells if c.get("status") != Status.OK]

    def group_of(self, cell: Cell) -> Group | None:
        return next((g for g in self.groups if any(c is cell for c in g.cells)), None)


def _title(runs: list[dict[str, Any]]) -> str:
    """The experiment's name, from the specs of the runs that recorded the cells."""
    names = list(dict.fromkeys(r["name"] for r in runs if r["name"]))
    if not names:
        return "tfrepro experiment"
    return names[0] if len(names) == 1 else " · ".join(names)


def collect(
    store: Store,
    *,
    by: str = "tf_version",
    baseline: str | None = None,
    margin: float | None = None,
    metrics: list[str] | None = None,
    alpha: float = 0.05,
) -> ReportData:
    """Cells of the store, grouped along `by`, with the analysis' summaries and verdicts
    (margin: --margin, else the spec's, else the analysis' default)."""
    cells = load.cells(store, by)  # for `attempt`: every attempt of the rerun cells
    if not cells:
        kept = len(store.explanations())
        also = f" (only {kept} explanation(s), shown next to the cells)" if kept else ""
        raise UsageError(
            f"the store at '{store.root}' has no cells yet{also}: run `tfrepro run` first"
        )
    groups.check_axis(cells, by)
    members = groups.group_cells(cells, by)
    summaries = {s["label"]: s for s in groups.group_summary(cells, by)}
    grouped = [Group(label, i, members[label], summaries[label]) for i, label in enumerate(members)]
    ok_labels = [g.label for g in grouped if g.summary["n_ok"]]
    if baseline is not None:
        baseline = compare.resolve_group(ok_labels, baseline, "--baseline")
    rows: list[dict[str, Any]] = []
    if len(ok_labels) >= 2:
        rows = compare.compare_cells(
            cells,
            by=by,
            metrics=metrics,
            baseline=baseline,
            alpha=alpha,
            margin=margin if margin is not None else load.spec_margin(store, cells),
            predictions=load.predictions(cells),
            labels=load.labels(cells),
        )
    names = list(metrics or groups.metric_names(c for c in cells if c.get("status") == Status.OK))
    used = {c.get("run_id") for c in cells}
    runs = [r for r in store.runs() if r["id"] in used]
    return ReportData(
        title=_title(runs),
        store=str(store.root),
        by=by,
        runs=runs,
        explanations=store.explanations(),
        generated=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        cells=cells,
        groups=grouped,
        comparisons=rows,
        metrics=names,
        reference=baseline or (ok_labels[0] if ok_labels else None),
    )
