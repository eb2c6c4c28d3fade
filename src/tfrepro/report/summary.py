"""The short forms of the report: a terminal summary and a Markdown pull-request comment.

Both list the verdicts the analysis computed, worst first; neither computes anything. User
strings are escaped for their medium: rich markup is never interpreted, Markdown cells escape
the characters that would break a table or become HTML in a PR comment, and in both a control
character (an ESC that would start a terminal sequence) is shown as `\x1b` (style.visible).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tfrepro.analysis.ladder import Verdict
from tfrepro.files import write_text
from tfrepro.report.collect import ReportData
from tfrepro.report.style import (
    HEADLINE_MARK,
    HEADLINE_RICH,
    MARK,
    RICH,
    fmt_num,
    fmt_p,
    fmt_pct,
    fmt_signed,
    headline,
    markup_safe,
    sort_rows,
    visible,
)

MAX_ROWS = 30  # longer tables are cut in both forms; the HTML report has every row
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|~])")


def md(text: Any) -> str:
    """Escape a value for a GitHub Markdown table cell: no markup, no HTML, one line, no
    control characters."""
    s = " ".join(visible(text).split())
    s = s.replace("&", "&amp;")
    return _MD_SPECIAL.sub(
        lambda m: {"<": "&lt;", ">": "&gt;", "|": "\\|"}.get(m.group(1), "\\" + m.group(1)), s
    )


def _ci(r: dict[str, Any]) -> str:
    lo, hi = r.get("ci_low"), r.get("ci_high")
    return f"[{fmt_signed(lo)}, {fmt_signed(hi)}]" if lo is not None and hi is not None else "—"


def _counts(data: ReportData) -> str:
    failed = len(data.failed)
    ok = len(data.cells) - failed
    return (
        f"{len(data.cells)} cells ({ok} ok"
        + (f", {failed} not ok" if failed else "")
        + f"), {len(data.groups)} groups by {data.by}"
    )


def _pairs(rows: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, dict[str, Any]]]]:
    """Rows (already worst first) folded into one entry per pair: metric -> row."""
    out: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for r in rows:
        out.setdefault((str(r["a"]), str(r["b"])), {})[str(r["metric"])] = r
    return [(a, b, by_metric) for (a, b), by_metric in out.items()]


def print_summary(console: Console, data: ReportData, html_path: str | None = None) -> None:
    """Headline, then one line per pair: each metric's verdict and difference, and churn."""
    h = headline(data.comparisons)
    console.print(
        Text(visible(data.title), style="bold"), Text(visible(_counts(data)), style="dim")
    )
    console.print(Text(h.title, style=HEADLINE_RICH.get(h.level, "bold")), Text(f"({h.detail})"))
    pairs = _pairs(sort_rows(data.comparisons))
    if pairs:
        table = Table(box=None, pad_edge=False, header_style="bold dim")
        table.add_column("a", no_wrap=True)
        table.add_column("b", no_wrap=True)
        for m in data.metrics:
            table.add_column(f"{markup_safe(m)}: verdict, b − a", no_wrap=True)
        table.add_column("churn", justify="right", no_wrap=True)
        for a, b, by_metric in pairs[:MAX_ROWS]:
            cells = []
            for m in data.metrics:
                r = by_metric.get(m)
                cells.append(
                    Text("—")
                    if r is None
                    else Text.assemble(
                        (str(r["verdict"]), RICH.get(r["verdict"], "")),
                        f" {fmt_signed(r.get('diff'))}",
                    )
                )
            churn = next((r.get("churn") for r in by_metric.values()), None)
            table.add_row(Text(visible(a)), Text(visible(b)), *cells, fmt_pct(churn))
        console.print(table)
        if len(pairs) > MAX_ROWS:
            console.print(f"… {len(pairs) - MAX_ROWS} more pairs in the HTML report", style="dim")
    for c in data.failed[:5]:
        group = data.group_of(c)
        console.print(
            Text(visible(f"{c['status']:>8} "), style="red"),
            Text(
                visible(
                    f"{group.label if group else '—'} seed {c.get('seed')}: {c.get('reason') or ''}"
                )
            ),
        )
    if len(data.failed) > 5:
        console.print(f"… and {len(data.failed) - 5} more not-ok cells", style="dim")
    if html_path:
        console.print(
            Text.assemble(
                ("report: ", "dim"),
                visible(html_path),
                (" (confidence intervals, p-values, plots)", "dim"),
            )
        )


def markdown(data: ReportData, html_name: str | None = None) -> str:
    """A PR-comment summary: headline, verdict table (worst first), groups, failures."""
    h = headline(data.comparisons)
    icon = HEADLINE_MARK.get(h.level, "⚪")
    detail = h.detail[:1].upper() + h.detail[1:]
    lines = [
        f"### {icon} tfrepro: {md(h.title)}",
        "",
        f"**{md(data.title)}** · {md(_counts(data))}. {md(detail)}.",
        "",
    ]
    rows = sort_rows(data.comparisons)
    if rows:
        unsure = any(r["verdict"] == Verdict.INCONCLUSIVE for r in rows)
        lines += [
            "| a | b | metric | verdict | b − a | CI | p (Holm) | churn |"
            + (" seeds needed |" if unsure else ""),
            "|---|---|---|---|--:|--:|--:|--:|" + ("--:|" if unsure else ""),
        ]
        for r in rows[:MAX_ROWS]:
            needed = fmt_num(r.get("seeds_needed")) if r["verdict"] == Verdict.INCONCLUSIVE else ""
            lines.append(
                f"| {md(r['a'])} | {md(r['b'])} | {md(r['metric'])} | "
                f"{MARK.get(r['verdict'], '')} {md(r['verdict'])} | {fmt_signed(r.get('diff'))} | "
                f"{_ci(r)} | {fmt_p(r.get('p_adjusted'))} | {fmt_pct(r.get('churn'))} |"
                + (f" {needed} |" if unsure else "")
            )
        if len(rows) > MAX_ROWS:
            lines.append(f"\n… {len(rows) - MAX_ROWS} more comparisons in the HTML report.")
        lines.append("")
    lines += [
        "<details><summary>Groups</summary>",
        "",
        "| group | ok | not ok | "
        + " | ".join(md(m) for m in data.metrics)
        + " | distinct final weights |",
        "|---|--:|--:|" + "--:|" * len(data.metrics) + "--:|",
    ]
    for g in data.groups:
        s = g.summary
        cells = []
        for m in data.metrics:
            stat = (s.get("metrics") or {}).get(m) or {}
            mean, std = stat.get("mean"), stat.get("std")
            cells.append(
                "—"
                if mean is None
                else fmt_num(mean) + (f" ± {fmt_num(std)}" if std is not None else "")
            )
        lines.append(
            f"| {md(g.label)} | {s.get('n_ok', 0)} | {s.get('n_failed', 0)} | "
            + " | ".join(cells)
            + f" | {s.get('distinct_final_hashes', 0)} |"
        )
    lines += ["", "</details>", ""]
    if data.failed:
        n = len(data.failed)
        lines += [f"<details><summary>{n} cell{'s' if n != 1 else ''} not ok</summary>", ""]
        for c in data.failed[:MAX_ROWS]:
            group = data.group_of(c)
            lines.append(
                f"- **{md(c['status'])}** {md(group.label if group else '—')} "
                f"seed {md(c.get('seed'))}: {md(c.get('reason') or '')}"
            )
        lines += ["", "</details>", ""]
    if html_name:
        lines.append(f"Full report: {md(html_name)} (self-contained HTML).")
    return "\n".join(lines).rstrip() + "\n"


def write_markdown(data: ReportData, path: Path, html_name: str | None = None) -> Path:
    return write_text(path, markdown(data, html_name))
