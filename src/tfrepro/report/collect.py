"""Everything a report shows, gathered once: cells from the store, verdicts and group
summaries from the analysis (the task, tasks/results.report, reads the one and asks the other).
The HTML, Markdown and terminal renderers read only this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tfrepro.record import CellRecord as Cell
from tfrepro.record import Status


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


def title(runs: list[dict[str, Any]]) -> str:
    """The experiment's name, from the specs of the runs that recorded the cells."""
    names = list(dict.fromkeys(r["name"] for r in runs if r["name"]))
    if not names:
        return "tfrepro experiment"
    return names[0] if len(names) == 1 else " · ".join(names)
