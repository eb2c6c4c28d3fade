"""Terminal rendering of `compare` and `check`: one table row per (pair, metric), verdict coloured.

Renders the rows analysis.compare produced; computes nothing. Labels come from user data (knob
and environment values), so they go into rich Text objects, never into markup.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

STYLE = {
    "bitwise-identical": "bold green",
    "numerically-equal": "green",
    "equivalent": "cyan",
    "different": "bold red",
    "inconclusive": "yellow",
}


def _num(x: float | None, digits: int = 4) -> str:
    return "—" if x is None else f"{x:.{digits}g}"


def _p(x: float | None) -> str:
    if x is None:
        return "—"
    return "<0.001" if x < 0.001 else f"{x:.3f}"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _group(mean: float | None, std: float | None, n: int) -> str:
    if mean is None:
        return f"— (n={n})"
    return f"{mean:.4f} ± {_num(std, 2)} (n={n})"


def _diff(r: dict[str, Any]) -> str:
    if r["diff"] is None:
        return "—"
    ci = "" if r["ci_low"] is None else f"\n[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]"
    return f"{r['diff']:+.4f}{ci}"


def compare_table(console: Console, rows: Sequence[dict[str, Any]], *, title: str) -> None:
    """One row per (pair, metric); the pair is named on its first row only."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  padding=(0, 1), collapse_padding=True)
    table.add_column("a → b", min_width=7, overflow="fold")
    table.add_column("metric", min_width=6, overflow="fold")
    table.add_column("verdict", no_wrap=True)
    table.add_column("b − a\n[95% CI]", justify="right", no_wrap=True)
    table.add_column("p Holm\nTOST p", justify="right", no_wrap=True)
    table.add_column("Δ/σ", justify="right", no_wrap=True)
    table.add_column("seeds\nneeded", justify="right")
    last = None
    for r in rows:
        pair = (r["a"], r["b"])
        if last is not None and pair != last:
            table.add_section()
        effect = "—" if r["effect_size"] is None else f"{r['effect_size']:+.2f}"
        table.add_row(
            Text(f"{r['a']}\n→ {r['b']}") if pair != last else "", Text(r["metric"]),
            Text(r["verdict"], style=STYLE.get(r["verdict"], "")), _diff(r),
            f"{_p(r['p_adjusted'])}\n{_p(r['tost_p'])}", effect,
            "—" if r["seeds_needed"] is None else str(r["seeds_needed"]),
        )
        last = pair
    console.print(table)
    if rows:
        r = rows[0]
        margin = ("one noise floor per metric (default; set `margin` in the spec or --margin)"
                  if r["margin_source"] != "given" else f"±{r['margin']:g}")
        console.print(f"σ: noise floor (seed-to-seed std pooled over the pair); margin: {margin}; "
                      f"alpha {r['alpha']:g}", highlight=False, style="dim")


def pair_notes(console: Console, rows: Sequence[dict[str, Any]]) -> None:
    """One line per pair: prediction churn against seed churn, and where the losses part."""
    seen: set[tuple[str, str]] = set()
    for r in rows:
        if (r["a"], r["b"]) in seen:
            continue
        seen.add((r["a"], r["b"]))
        parts = []
        if r["churn"] is not None:
            within = ("" if r["churn_within"] is None
                      else f" vs {_pct(r['churn_within'])} between seeds")
            parts.append(f"churn {_pct(r['churn'])} ({r['churn_basis']}){within}")
        t = r.get("trajectory")
        if t is None:
            parts.append("no matching seeds")
        elif t["first_diff_step"] is None:
            parts.append(f"losses bitwise identical at every step ({t['n_seeds']} seed(s))")
        else:
            parts.append(f"losses first differ at step {t['first_diff_step']}, largest gap "
                         f"{_num(t['max_loss_gap'], 3)}")
        if r["n_matched"] and r["identical_init"] < r["n_matched"]:
            parts.append(f"initial weights differ for {r['n_matched'] - r['identical_init']} "
                         f"of {r['n_matched']} seed(s)")
        line = Text(f"{r['a']} → {r['b']}: ", style="bold")
        line.append("; ".join(parts))
        console.print(line)


def verdict_notes(console: Console, rows: Sequence[dict[str, Any]]) -> None:
    """Why, for the verdicts that ask for action or hide a surprise."""
    for r in rows:
        if r["verdict"] not in ("different", "inconclusive") and "anyway" not in r["reason"]:
            continue
        line = Text(f"{r['a']} → {r['b']} {r['metric']}: ")
        line.append(r["verdict"], style=STYLE.get(r["verdict"], ""))
        line.append(f" — {r['reason']}")
        if r["seeds_needed"]:
            line.append(f"; about {r['seeds_needed']} seeds per group would settle it")
        console.print(line)


def check_report(console: Console, result: Any, source: str) -> None:
    """The check table, failed cells, and the outcome line."""
    compare_table(console, result.rows, title=f"check against {source}")
    verdict_notes(console, result.rows)
    for f in result.failures:
        console.print(Text(f"{f['group']} seed {f['seed']}: {f['status']} — {f['reason'] or ''}",
                           style="red"))
    counts = Counter(r["verdict"] for r in result.rows)
    if result.failures:
        why = f"{len(result.failures)} cell(s) ok in the baseline did not finish ok now"
    elif result.outcome == "different":
        why = f"{counts['different']} of {len(result.rows)} comparison(s) differ"
    elif result.outcome == "inconclusive":
        why = (f"{counts['inconclusive']} comparison(s) undecided: run more seeds (see seeds "
               f"needed)" if result.rows else "no metric in common with the baseline")
    else:
        why = "every metric is bitwise identical, numerically equal or equivalent"
    style = {"pass": "bold green", "different": "bold red"}.get(result.outcome, "bold yellow")
    line = Text(f"check: {result.outcome}", style=style)
    line.append(f" — {why}")
    console.print(line)
