"""Terminal rendering of `tfrepro explain` results (computed in explain / analysis)."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table


def _num(x: Any) -> str:
    if isinstance(x, float):
        if math.isinf(x):
            return "∞"
        return "0" if x == 0 else f"{x:.3g}"
    return str(x)


def render(console: Console, result: dict[str, Any]) -> None:
    cells = result["cells"]
    for label in ("A", "B"):
        c = cells[label]
        console.print(
            f"[bold]{label}[/]: TF {c['tf']}, Keras {c['keras']} ({c['keras_module']}), "
            f"Python {c['python']}, numpy {c['numpy']}, optimizer {c['optimizer']}",
            highlight=False,
        )
    first = result["first_divergence"]
    where = f" at [bold]{first['layer']}[/]" if first.get("layer") else ""
    console.print(
        f"\nFirst divergence: [bold red]{first['stage']}[/]{where}"
        + (
            f"; after transplanting A's weights: [bold]{result['first_after_transplant']}[/]"
            if result["first_after_transplant"] != first["stage"]
            else ""
        )
    )
    table = Table(
        title="Stages (B vs A; tolerance = difference between two runs of A)", title_justify="left"
    )
    for col in ("stage", "diverged", "bitwise", "max |B−A|", "tolerance", "where"):
        table.add_column(col)
    for name, s in result["stages"].items():
        mark = "[red]yes[/]" if s["diverged"] else "[green]no[/]"
        where = s.get("where") or ""
        if name == "config":
            where = ", ".join(f"{c['key']}: {c['a']!r}→{c['b']!r}" for c in s["changed"][:3])
        if name == "trajectory" and s.get("growth_per_step"):
            where += f" (gap ×{s['growth_per_step']:.2f}/step)"
        table.add_row(
            name,
            mark,
            "yes" if s["bitwise"] else "no",
            _num(s["max_abs"]),
            _num(s["tolerance"]),
            where,
        )
    console.print(table)
    if result["ablations"]:
        abl = Table(title="Knob ablation in B", title_justify="left")
        for col in ("knob", "first divergence then", "gap before", "gap after", "closes it"):
            abl.add_column(col)
        for ab in result["ablations"]:
            if ab["status"] != "ok":
                abl.add_row(
                    f"{ab['knob']}={ab['value']}",
                    f"[red]{ab['status']}[/]",
                    "",
                    "",
                    ab.get("reason", "")[:60],
                )
                continue
            abl.add_row(
                f"{ab['knob']}={ab['value']}",
                ab["first_after_transplant"],
                _num(ab["gap_before"]),
                _num(ab["gap_after"]),
                "[green]yes[/]" if ab["closes"] else "no",
            )
        console.print(abl)
    console.print("\n[bold]Causes, most likely first[/]")
    for i, c in enumerate(result["causes"][:12], 1):
        console.print(f"{i:>2}. [{c['stage']}] {c['cause']}", highlight=False, soft_wrap=True)
    if not result["causes"]:
        console.print("   none found: the two groups are identical at every stage")
    console.print(f"\n[dim]{result['probes']} probes, {result['seconds']} s[/]")
