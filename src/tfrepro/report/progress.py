"""Live progress for `tfrepro run`: environments, then cells done / failed / left with ETA."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from tfrepro.record import Status
from tfrepro.report.style import markup_safe

if TYPE_CHECKING:
    from tfrepro.envs.request import EnvRequest
    from tfrepro.execute.cellrun import Outcome
    from tfrepro.plan import Cell

_STYLE: dict[str, str] = {
    Status.OK: "green",
    Status.FAILED: "red",
    Status.TIMEOUT: "red",
    Status.DIVERGED: "yellow",
}


class RichReporter:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.counts: dict[str, int] = dict.fromkeys(Status, 0)
        # created by planned() when there is work; the other callbacks come only after it
        self._cells: TaskID | None = None
        self._envs: TaskID | None = None

    @staticmethod
    def _task(task: TaskID | None) -> TaskID:
        assert task is not None, "planned() with cells to run comes first"
        return task

    def __enter__(self) -> RichReporter:
        return self  # the bars start with the first cell to run (planned): an error in
        # planning, or nothing to do, leaves no empty progress display behind

    def __exit__(self, *exc: object) -> None:
        if self._cells is not None:
            self.progress.__exit__(*exc)  # type: ignore[arg-type]

    def planned(self, total: int, todo: int, envs: int) -> None:
        skipped = total - todo
        self.console.print(
            f"[bold]{total}[/] cells planned, [bold]{skipped}[/] already in the store, "
            f"[bold]{todo}[/] to run in {envs} environment(s)"
        )
        if todo:
            self.progress.__enter__()
            self._envs = self.progress.add_task("environments", total=envs, detail="")
            self._cells = self.progress.add_task("cells", total=todo, detail="")

    def env_started(self, env: EnvRequest, cached: bool) -> None:
        what = "cached" if cached else "building"
        self.progress.update(
            self._task(self._envs),
            detail=markup_safe(f"{what} TF {env.tf_version} py{env.python_version}"),
        )

    def env_done(self, env: EnvRequest, error: str | None) -> None:
        self.progress.advance(self._task(self._envs))
        if error:
            self.console.print(
                f"[red]environment failed[/]: {markup_safe(error)}", highlight=False, soft_wrap=True
            )

    def cell_started(self, cell: Cell) -> None:
        pass

    def cell_done(self, cell: Cell, outcome: Outcome) -> None:
        self.counts[outcome.status] = self.counts.get(outcome.status, 0) + 1
        self.progress.advance(self._task(self._cells))
        detail = " ".join(f"{k} {v}" for k, v in self.counts.items() if v)
        self.progress.update(self._task(self._cells), detail=detail)
        style = _STYLE.get(outcome.status, "white")
        # user strings (env values, reasons, tracebacks) are text, never markup nor controls
        failed = outcome.status != Status.OK and outcome.reason
        reason = f" — {markup_safe(outcome.reason)}" if failed else ""
        self.console.print(
            f"[{style}]{outcome.status:>8}[/] {markup_safe(cell.describe())} "
            f"[dim]({outcome.wall_seconds:.1f} s)[/]{reason}",
            highlight=False,
            soft_wrap=True,
        )

    def cell_elsewhere(self, cell: Cell) -> None:
        self.progress.advance(self._task(self._cells))
        self.console.print(
            f"[dim]{'skipped':>8} {markup_safe(cell.describe())} (finished meanwhile by another "
            "run on this store)[/]",
            highlight=False,
            soft_wrap=True,
        )
