"""Terminal rendering of `compare` and `check`: one table row per (pair, metric), verdict coloured.

Renders the rows analysis.compare produced; computes nothing. Labels come from user data (knob
and environment values), so they go into rich Text objects, never into markup, through `visible`
(a control character in them is shown, never obeyed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tfrepro.analysis.ladder import Verdict
from tfrepro.report.breaks_view import known_line, remedy_text
from tfrepro.report.style import (
    OUTCOME_RICH,
    RICH,
    fmt_fixed_signed,
    fmt_p_compact,
    fmt_pct,
    fmt_sig,
    markup_safe,
    visible,
)


def _diff(r: dict[str, Any]) -> str:
    if r["diff"] is None:
        return "—"
    ci = (
        ""
        if r["ci_low"] is None
        else f"\n[{fmt_fixed_signed(r['ci_low'], 3)}, {fmt_fixed_signed(r['ci_high'], 3)}]"
    )
    return f"{fmt_fixed_signed(r['diff'])}{ci}"


def compare_table(console: Console, rows: Sequence[dict[str, Any]], *, title: str) -> None:
    """One row per (pair, metric); the pair is named on its first row only."""
    table = Table(
        title=markup_safe(title),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=(0, 1),
        collapse_padding=True,
    )
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
        effect = fmt_fixed_signed(r["effect_size"], 2)
        table.add_row(
            Text(visible(f"{r['a']}\n→ {r['b']}")) if pair != last else "",
            Text(visible(r["metric"])),
            Text(r["verdict"], style=RICH.get(r["verdict"], "")),
            _diff(r),
            f"{fmt_p_compact(r['p_adjusted'])}\n{fmt_p_compact(r['tost_p'])}",
            effect,
            "—" if r["seeds_needed"] is None else str(r["seeds_needed"]),
        )
        last = pair
    console.print(table)
    if rows:
        r = rows[0]
        margin = (
            "one noise floor per metric (default; set `margin` in the spec or --margin)"
            if r["margin_source"] != "given"
            else f"±{r['margin']:g}"
        )
        console.print(
            f"σ: noise floor (seed-to-seed std pooled over the pair); margin: {margin}; "
            f"alpha {r['alpha']:g}",
            highlight=False,
            style="dim",
        )


def pair_notes(console: Console, rows: Sequence[dict[str, Any]]) -> None:
    """One line per pair: prediction churn against seed churn, and where the losses part."""
    seen: set[tuple[str, str]] = set()
    for r in rows:
        if (r["a"], r["b"]) in seen:
            continue
        seen.add((r["a"], r["b"]))
        parts = []
        if r["churn"] is not None:
            within = (
                ""
                if r["churn_within"] is None
                else f" vs {fmt_pct(r['churn_within'])} between seeds"
            )
            parts.append(f"churn {fmt_pct(r['churn'])} ({r['churn_basis']}){within}")
        t = r.get("trajectory")
        if t is None:
            parts.append("no matching seeds")
        elif t["first_diff_step"] is None:
            parts.append(f"losses bitwise identical at every step ({t['n_seeds']} seed(s))")
        else:
            parts.append(
                f"losses first differ at step {t['first_diff_step']}, largest gap "
                f"{fmt_sig(t['max_loss_gap'], 3)}"
            )
        if r["n_matched"] and r["identical_init"] < r["n_matched"]:
            parts.append(
                f"initial weights differ for {r['n_matched'] - r['identical_init']} "
                f"of {r['n_matched']} seed(s)"
            )
        line = Text(visible(f"{r['a']} → {r['b']}: "), style="bold")
        line.append(visible("; ".join(parts)))
        console.print(line)


def verdict_notes(console: Console, rows: Sequence[dict[str, Any]]) -> None:
    """Why, for the verdicts that ask for action or hide a surprise."""
    for r in rows:
        if (
            r["verdict"] not in (Verdict.DIFFERENT, Verdict.INCONCLUSIVE)
            and "anyway" not in r["reason"]
        ):
            continue
        line = Text(visible(f"{r['a']} → {r['b']} {r['metric']}: "))
        line.append(r["verdict"], style=RICH.get(r["verdict"], ""))
        line.append(visible(f" — {r['reason']}"))
        if r["seeds_needed"]:
            line.append(f"; about {r['seeds_needed']} seeds per group would settle it")
        console.print(line)


def sequential_notes(console: Console, rows: Sequence[dict[str, Any]]) -> None:
    """Where the store holds a `run --until-settled` over these pairs: its verdict, and when."""
    for r in rows:
        seq = r.get("sequential")
        if not seq:
            continue
        done = seq["settled"]
        when = (
            f"at round {done['look']} ({done['seeds']} seeds per group)"
            if done
            else f"still open after {len(seq['path'])} round(s)"
        )
        line = Text(visible(f"{r['a']} → {r['b']} {r['metric']}: until settled said "))
        line.append(seq["verdict"], style=RICH.get(seq["verdict"], ""))
        line.append(f" {when}; design and path in `compare --json`")
        console.print(line)


def check_report(console: Console, result: Any, source: str) -> None:
    """The check table, failed cells, and the outcome line."""
    compare_table(console, result.rows, title=f"check against {source}")
    verdict_notes(console, result.rows)
    for f in result.failures:
        console.print(
            Text(
                visible(
                    f"{f['group']} seed {f['seed']}: {f['status']} — "
                    f"{f.get('describe') or f['reason'] or ''}"
                ),
                style="red",
            ),
            soft_wrap=True,
        )
        if f.get("known_break"):
            known = f["known_break"]
            console.print(
                Text(
                    visible(f"  {known_line(known)}; restores it: {remedy_text(known['remedy'])}")
                ),
                soft_wrap=True,
            )
    counts = Counter(r["verdict"] for r in result.rows)
    if result.failures:
        why = f"{len(result.failures)} cell(s) ok in the baseline did not finish ok now"
    elif result.outcome == "different":
        why = f"{counts[Verdict.DIFFERENT]} of {len(result.rows)} comparison(s) differ"
    elif result.outcome == "inconclusive":
        why = (
            f"{counts[Verdict.INCONCLUSIVE]} comparison(s) undecided: run more seeds (see seeds "
            f"needed)"
            if result.rows
            else "no metric in common with the baseline"
        )
    else:
        why = "every metric is bitwise identical, numerically equal or equivalent"
    line = Text(f"check: {result.outcome}", style=OUTCOME_RICH.get(result.outcome, "bold yellow"))
    line.append(f" — {why}")
    console.print(line)
