"""Presenting verdicts computed by the analysis: order, colours, the headline, number formats.

Nothing here decides a verdict; it only sorts, counts and words the ones it is given.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# The ladder, from the best news to the worst; the headline follows the worst verdict present.
LADDER = ("bitwise-identical", "numerically-equal", "equivalent", "inconclusive", "different")
COLORS = {
    "bitwise-identical": "#1a7f37",
    "numerically-equal": "#2da44e",
    "equivalent": "#0f766e",
    "inconclusive": "#b45309",
    "different": "#c62828",
}
RICH = {
    "bitwise-identical": "bold green",
    "numerically-equal": "green",
    "equivalent": "cyan",
    "inconclusive": "yellow",
    "different": "bold red",
}
ABBR = {  # the squares of the header's verdict grid
    "bitwise-identical": "≡",
    "numerically-equal": "=",
    "equivalent": "≈",
    "inconclusive": "?",
    "different": "≠",
}
MARK = {
    "bitwise-identical": "🟢",
    "numerically-equal": "🟢",
    "equivalent": "🟢",
    "inconclusive": "🟡",
    "different": "🔴",
}


@dataclass(frozen=True)
class Headline:
    level: str  # "same" | "inconclusive" | "different" | "none"
    title: str
    detail: str
    counts: list[tuple[str, int]]  # (verdict, how many), ladder order, only those present


def _rank(verdict: str) -> int:
    return LADDER.index(verdict) if verdict in LADDER else len(LADDER)


def sort_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Worst verdict first; then by metric and pair, as given."""
    return sorted(rows, key=lambda r: -_rank(str(r.get("verdict"))))


def headline(rows: Sequence[dict[str, Any]]) -> Headline:
    counts = Counter(str(r.get("verdict")) for r in rows)
    ordered = [(v, counts[v]) for v in LADDER if counts[v]]
    ordered += [(v, n) for v, n in counts.items() if v not in LADDER]
    n = len(rows)
    if not n:
        return Headline("none", "No comparisons",
                        "at least two groups with finished cells are needed to compare", [])
    different, unsure = counts["different"], counts["inconclusive"]
    if different:
        return Headline(
            "different", f"{different} of {n} comparisons differ beyond seed noise",
            "significant after correcting for the number of comparisons"
            + (f"; {unsure} more inconclusive" if unsure else ""), ordered)
    if unsure:
        needed = [r.get("seeds_needed") for r in rows if r.get("verdict") == "inconclusive"]
        most = max((int(s) for s in needed if isinstance(s, int | float) and math.isfinite(s)),
                   default=None)
        more = f"; about {most} seeds per group would settle them" if most else ""
        return Headline("inconclusive", f"{unsure} of {n} comparisons are inconclusive",
                        f"no significant difference, but not enough seeds to call it equal{more}",
                        ordered)
    identical = counts["bitwise-identical"]
    what = ("bitwise identical" if identical == n else
            "identical, numerically equal or equivalent within the margin")
    return Headline("same", f"All {n} comparisons show no difference",
                    f"every pair is {what}", ordered)


def fmt_num(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if value != 0 and abs(value) < 10 ** -(digits - 1):
        return f"{value:.{max(1, digits - 2)}e}"
    return f"{value:.{digits}f}"


def fmt_signed(value: Any, digits: int = 4) -> str:
    text = fmt_num(value, digits)
    return f"+{text}" if isinstance(value, int | float) and value > 0 else text


def fmt_p(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if not isinstance(value, int | float):
        return str(value)
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def fmt_pct(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if not isinstance(value, int | float):
        return str(value)
    return f"{100 * value:.1f}%"
