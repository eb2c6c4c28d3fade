"""Terminal rendering of `tfrepro explain` results (computed in explain / analysis).

Layer names, config values, reasons and versions come from the user's model and environment:
they go into markup through `markup_safe` (brackets escaped, control characters shown).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from rich.console import Console
from rich.table import Table

from tfrepro.analysis.stages import PER_ITEM_STAGES, PER_LAYER_STAGES
from tfrepro.report import breaks_view
from tfrepro.report.style import fmt_delta, markup_safe, visible

if TYPE_CHECKING:
    from tfrepro.tasks.breakage import BreakResult
    from tfrepro.tasks.explain import ExplainResult

_SIDES = {"B": "B", "both": "A and B"}


def _items(console: Console, name: str, stage: dict[str, Any]) -> None:
    """Per layer (forward) or per variable (gradient, optimizer): the stage's numbers."""
    table = Table(
        title=f"{name}: B vs A per {'layer' if name in PER_LAYER_STAGES else 'variable'}",
        title_justify="left",
    )
    for col in ("name", "bitwise", "max |B−A|", "max rel", "max ULP"):
        table.add_column(col, justify="left" if col in ("name", "bitwise") else "right")
    items = stage.get("items") or []
    for item in items[:20]:
        table.add_row(
            markup_safe(item["name"]),
            "yes" if item["bitwise"] else "[red]no[/]",
            fmt_delta(item["max_abs"]),
            fmt_delta(item.get("max_rel")),
            fmt_delta(item.get("max_ulp")),
        )
    if len(items) > 20:
        table.add_row(f"… {len(items) - 20} more (--json has all)", "", "", "", "")
    console.print(table)


def render(console: Console, result: ExplainResult | BreakResult) -> None:
    if result.kind == "break":  # one side does not run: what broke, what makes it run
        breaks_view.explain_break(console, cast("BreakResult", result))
        return
    result = cast("ExplainResult", result)
    _sides(console, result.cells)
    if result.cells_compared is not None:  # the script could not be probed
        _unprobed(console, result)
        return
    if result.probed is not None:
        console.print(
            f"Probed at the script's fit #{result.probed['fit']}: "
            + markup_safe(result.probed["why"]),
            highlight=False,
        )
    _first_divergence(console, result.first_divergence, result.first_after_transplant)
    _stage_table(console, result.stages)
    _not_measured(console, result.stages)
    numeric = [n for n in PER_ITEM_STAGES if result.stages.get(n, {}).get("diverged")]
    if numeric:  # the first diverging stage that has layers or variables, in detail
        _items(console, numeric[0], result.stages[numeric[0]])
    gap = result.first_divergence.get("training_mode")
    if gap and numeric and numeric[0] != gap["stage"]:  # ... and where the gap is made
        _items(console, gap["stage"], result.stages[gap["stage"]])
    if result.ablations:
        _ablation_table(console, result.ablations)
    _causes(console, result.causes)
    console.print(f"\n[dim]{result.probes} probes, {result.seconds} s[/]")


def _unprobed(console: Console, result: ExplainResult) -> None:
    """No stage measured: why, and what the two plain cells show (said as that)."""
    console.print(
        "\nFirst divergence: [yellow]not measured[/] — "
        + markup_safe(result.first_divergence.get("reason", "")),
        highlight=False,
        soft_wrap=True,
    )
    comp = result.cells_compared or {}
    metrics = ", ".join(
        f"{m} {d['a']:.6g} → {d['b']:.6g}" for m, d in sorted((comp.get("metrics") or {}).items())
    )
    console.print(
        markup_safe(
            f"What the script's plain cells show (seed {result.seed}, not a stage): "
            f"{comp.get('verdict')}, final weights {comp.get('weights')}"
            + (f"; {metrics}" if metrics else "")
        ),
        highlight=False,
        soft_wrap=True,
    )


def _sides(console: Console, cells: dict[str, dict[str, Any]]) -> None:
    """What each side ran: the versions and the optimizer."""
    for label in ("A", "B"):
        c = cells[label]
        console.print(
            f"[bold]{label}[/]: "
            + markup_safe(
                f"TF {c['tf']}, Keras {c['keras']} ({c['keras_module']}), "
                f"Python {c['python']}, numpy {c['numpy']}, optimizer {c['optimizer']}"
            ),
            highlight=False,
        )


def _first_divergence(console: Console, first: dict[str, Any], after: str) -> None:
    """The first stage that diverged, and where the transplant of A's weights moved it."""
    where = f" at [bold]{markup_safe(first['layer'])}[/]" if first.get("layer") else ""
    console.print(
        f"\nFirst divergence: [bold red]{markup_safe(first['stage'])}[/]{where}"
        + (
            f"; after transplanting A's weights: [bold]{markup_safe(after)}[/]"
            if after != first["stage"]
            else ""
        )
        + (
            " [yellow](before it, not measured: "
            f"{markup_safe(', '.join(first['not_measured_before']))})[/]"
            if first.get("not_measured_before")
            else ""
        )
    )
    gap = first.get("training_mode")
    if gap:
        console.print(
            f"In training mode the outputs differ far more: [bold red]{gap['stage']}[/] at "
            f"[bold]{markup_safe(gap['layer'])}[/] (max |B−A| {fmt_delta(gap['max_abs'])}, "
            f"inference mode at most {fmt_delta(gap['forward_max_abs'])}): the layer acts "
            "differently while training"
        )


def _stage_table(console: Console, stages: dict[str, dict[str, Any]]) -> None:
    table = Table(
        title="Stages (B vs A; tolerance = difference between two runs of A)", title_justify="left"
    )
    for col in ("stage", "diverged", "bitwise", "max |B−A|", "max ULP", "tolerance", "where"):
        table.add_column(col)
    for name, s in stages.items():
        if not s.get("measured", True):
            table.add_row(name, "[yellow]not measured[/]", "", "", "", "", "see below")
            continue
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
            fmt_delta(s["max_abs"]),
            fmt_delta(s.get("max_ulp")),
            fmt_delta(s["tolerance"]),
            markup_safe(where),
        )
    console.print(table)


def _not_measured(console: Console, stages: dict[str, dict[str, Any]]) -> None:
    """Why each unmeasured stage is, and what that means for the first divergence."""
    unmeasured = {n: s for n, s in stages.items() if not s.get("measured", True)}
    for name, s in unmeasured.items():
        console.print(f"[yellow]{markup_safe(name)} not measured[/]: {markup_safe(s['reason'])}")
    if unmeasured:
        console.print(
            "  the first divergence is the first of the measured stages: a stage not "
            "measured before it may already differ"
        )


def _ablation_table(console: Console, ablations: list[dict[str, Any]]) -> None:
    abl = Table(
        title="Knob ablation (B from A's weights and gradients, knob flipped)",
        title_justify="left",
    )
    for col in ("knob", "in", "first divergence then", "gap before", "gap after", "closes it"):
        abl.add_column(col)
    clashes = []
    for ab in ablations:
        if ab["status"] != "ok":
            colour = "yellow" if ab["status"] == "cannot run" else "red"
            abl.add_row(
                markup_safe(f"{ab['knob']}={ab['value']}"),
                _SIDES[ab.get("side", "B")],
                f"[{colour}]{ab['status']}[/]",
                "",
                "",
                markup_safe(ab.get("reason", "")[:60]),
            )
            if ab["status"] == "cannot run":
                clashes.append(ab.get("reason", ""))
            continue
        abl.add_row(
            markup_safe(f"{ab['knob']}={ab['value']}"),
            _SIDES[ab.get("side", "B")],
            markup_safe(ab["first_after_transplant"]),
            fmt_delta(ab["gap_before"]),
            fmt_delta(ab["gap_after"]),
            "[green]yes[/]" if ab["closes"] else "no",
        )
    console.print(abl)
    for reason in clashes:  # in full: it says which pair of knobs and TensorFlow's reason
        console.print(f"[yellow]note:[/] {markup_safe(reason)}", highlight=False)


def _causes(console: Console, causes: list[dict[str, Any]]) -> None:
    console.print("\n[bold]Causes, most likely first[/]")
    for i, c in enumerate(causes[:12], 1):
        console.print(
            visible(f"{i:>2}. [{c['stage']}] {c['cause']}"),
            highlight=False,
            soft_wrap=True,
            markup=False,
        )  # causes quote layer names and errors as they are
    if not causes:
        console.print("   none found: the two groups are identical at every stage")
