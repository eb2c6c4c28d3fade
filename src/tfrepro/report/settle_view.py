"""Terminal rendering of `run --until-settled`: a line per round, then the verdicts with the look
each settled at, and the trainings against the fixed design. Group labels come from user data
(knob and environment values): text through `visible`, never markup."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tfrepro.report import breaks_view
from tfrepro.report.style import OUTCOME_RICH, RICH, fmt_p_compact, markup_safe, visible
from tfrepro.report.views import NO_METRIC

if TYPE_CHECKING:
    from tfrepro.tasks.settle import SettleResult

SMALL_BASELINE = 8  # baseline seeds below which check --until-settled's A/A rate exceeds alpha


def progress(console: Console) -> Callable[[str], None]:
    def say(message: str) -> None:
        console.print(Text(visible(message), style="bold"), soft_wrap=True)

    return say


def render(console: Console, result: SettleResult) -> None:
    d = result.design
    against = f" against {result.against}" if result.against else ""
    if d.get("reference"):
        against += f" ({d['reference']} seeds per baseline group, fixed)"
    table = Table(
        title=markup_safe(
            f"until settled{against}, by {result.by}: {len(result.looks)} round(s) of "
            f"{d['step']} seeds per group (at most {d['max_seeds']}), {d['spending']} spending, "
            f"alpha {d['alpha']:g} over {d['comparisons']} comparison(s)"
        ),
        title_justify="left",
        box=box.SIMPLE_HEAD,
    )
    table.add_column("a → b", overflow="fold")
    table.add_column("metric", overflow="fold")
    table.add_column("verdict", no_wrap=True)
    table.add_column("settled", no_wrap=True)
    for col in ("p Welch", "TOST p", "level"):
        table.add_column(col, justify="right", no_wrap=True)
    last = {(s["a"], s["b"], s["metric"]): s for look in result.looks for s in look["rows"]}
    for r in result.rows:
        s = last.get((r["a"], r["b"], r["metric"]), {})
        done = r.get("settled")
        when = f"round {done['look']}, n={done['seeds']}" if done else "—"
        table.add_row(
            Text(visible(f"{r['a']} → {r['b']}")),
            Text(visible(r["metric"])),
            Text(str(r["verdict"]), style=RICH.get(r["verdict"], "")),
            when,
            fmt_p_compact(s.get("p_value")),
            fmt_p_compact(s.get("tost_p")),
            fmt_p_compact(s.get("level")),
        )
    if result.rows:
        console.print(table)
    status = {
        "settled": "every comparison settled",
        "budget": "max seeds reached: the open comparisons are inconclusive",
        "failed": f"no ok cell in {', '.join(result.failed_groups)}: nothing to compare it with",
        "no metric": f"nothing to compare: the ok cells {NO_METRIC}",
    }[result.status]
    if result.failures:
        breaks_view.failures(console, result.failures, by=result.by)
    console.print(
        Text(
            f"{status}; {result.trainings} trainings (the fixed design tfrepro recommends: "
            f"{result.fixed_trainings}); {result.seconds:.0f} s"
        )
    )
    if d.get("reference") is not None and d["reference"] < SMALL_BASELINE:
        console.print(
            Text(
                f"note: the baseline keeps {d['reference']} seeds per group; against so few the "
                f"rate of a false 'different' runs above alpha (simulated: 5.8 % at 4 seeds, "
                f"5.2 % at 8; benchmarks/bench_sequential.py --reference): save the baseline "
                f"with {SMALL_BASELINE} seeds or more",
                style="yellow",
            ),
            soft_wrap=True,
        )
    if result.outcome is not None:
        line = Text(f"check: {result.outcome}", style=OUTCOME_RICH.get(result.outcome, ""))
        console.print(line)
