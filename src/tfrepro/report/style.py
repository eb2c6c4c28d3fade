"""Presenting verdicts computed by the analysis: the one place for their order, colours,
symbols and emoji, the headline, and every number format the reports and terminal views use.

Nothing here decides a verdict; it only sorts, counts and words the ones it is given. Every
formatter returns "—" for a missing value. `visible` (and `markup_safe`, for rich markup) is
how every user string reaches a terminal or a Markdown file.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.markup import escape

from tfrepro.analysis.ladder import BY_SEVERITY, Verdict

# The ladder, from the best news to the worst; the headline follows the worst verdict present.
LADDER = BY_SEVERITY
COLORS = {  # the HTML report's pills and grid squares
    Verdict.BITWISE_IDENTICAL: "#1a7f37",
    Verdict.NUMERICALLY_EQUAL: "#2da44e",
    Verdict.EQUIVALENT: "#0f766e",
    Verdict.INCONCLUSIVE: "#b45309",
    Verdict.DIFFERENT: "#c62828",
}
RICH = {  # rich styles, in the terminal
    Verdict.BITWISE_IDENTICAL: "bold green",
    Verdict.NUMERICALLY_EQUAL: "green",
    Verdict.EQUIVALENT: "cyan",
    Verdict.INCONCLUSIVE: "yellow",
    Verdict.DIFFERENT: "bold red",
}
ABBR = {  # the squares of the header's verdict grid
    Verdict.BITWISE_IDENTICAL: "≡",
    Verdict.NUMERICALLY_EQUAL: "=",
    Verdict.EQUIVALENT: "≈",
    Verdict.INCONCLUSIVE: "?",
    Verdict.DIFFERENT: "≠",
}
MARK = {  # emoji, in Markdown
    Verdict.BITWISE_IDENTICAL: "🟢",
    Verdict.NUMERICALLY_EQUAL: "🟢",
    Verdict.EQUIVALENT: "🟢",
    Verdict.INCONCLUSIVE: "🟡",
    Verdict.DIFFERENT: "🔴",
}
# The headline's level ("same" | "inconclusive" | "different" | "none"): rich style and emoji.
HEADLINE_RICH = {"different": "bold red", "inconclusive": "bold yellow", "same": "bold green"}
HEADLINE_MARK = {"different": "🔴", "inconclusive": "🟡", "same": "🟢"}
# `check`'s outcome ("pass" | "different" | "inconclusive"): rich style, bold yellow otherwise.
OUTCOME_RICH = {"pass": "bold green", "different": "bold red"}


# C0 controls but newline and tab, DEL and C1: a terminal acts on them (ESC starts colours,
# hyperlinks and cursor moves, BEL ends an OSC sequence), so user strings never carry them raw.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(value: Any) -> str:
    """`value` as text whose control characters are shown, not obeyed: ESC becomes `\\x1b`."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))


def markup_safe(value: Any) -> str:
    """`value` for a rich string that is read as markup: control characters shown, and
    brackets escaped so that "[bold]" stays text."""
    return escape(visible(value))


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
    ordered: list[tuple[str, int]] = [(v, counts[v]) for v in LADDER if counts[v]]
    ordered += [(v, n) for v, n in counts.items() if v not in LADDER]
    n = len(rows)
    if not n:
        return Headline(
            "none",
            "No comparisons",
            "at least two groups with finished cells are needed to compare",
            [],
        )
    different, unsure = counts[Verdict.DIFFERENT], counts[Verdict.INCONCLUSIVE]
    if different:
        return Headline(
            "different",
            f"{different} of {n} comparisons differ beyond seed noise",
            "significant after correcting for the number of comparisons"
            + (f"; {unsure} more inconclusive" if unsure else ""),
            ordered,
        )
    if unsure:
        needed = [r.get("seeds_needed") for r in rows if r.get("verdict") == Verdict.INCONCLUSIVE]
        most = max(
            (int(s) for s in needed if isinstance(s, int | float) and math.isfinite(s)),
            default=None,
        )
        more = f"; about {most} seeds per group would settle them" if most else ""
        return Headline(
            "inconclusive",
            f"{unsure} of {n} comparisons are inconclusive",
            f"no significant difference, but not enough seeds to call it equal{more}",
            ordered,
        )
    identical = counts[Verdict.BITWISE_IDENTICAL]
    what = (
        "bitwise identical"
        if identical == n
        else "identical, numerically equal or equivalent within the margin"
    )
    return Headline(
        "same", f"All {n} comparisons show no difference", f"every pair is {what}", ordered
    )


# Number formats. They differ on purpose (each output is relied on); each has one use:
#   fmt_num / fmt_signed  report values (HTML, Markdown, summary): fixed digits, tiny → exponent
#   fmt_p                 p-values in the reports: "< 0.001"
#   fmt_p_compact         p-values in the compare/check table: "<0.001" (narrow column)
#   fmt_pct               fractions as percentages (churn)
#   fmt_sig               significant digits (spreads and gaps in terminal notes)
#   fmt_fixed_signed      signed, fixed digits, never an exponent (terminal differences)
#   fmt_delta             explain's differences and tolerances: 0, ∞, nan, 3 significant digits
#   fmt_mean_std          a list of values as "mean ± std" (the run summary)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def fmt_num(value: Any, digits: int = 4) -> str:
    if _missing(value):
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
    if _missing(value):
        return "—"
    if not isinstance(value, int | float):
        return str(value)
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def fmt_p_compact(value: float | None) -> str:
    if value is None:
        return "—"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def fmt_pct(value: Any) -> str:
    if _missing(value):
        return "—"
    if not isinstance(value, int | float):
        return str(value)
    return f"{100 * value:.1f}%"


def fmt_sig(value: Any, digits: int = 3) -> str:
    return f"{value:.{digits}g}" if isinstance(value, int | float) else "—"


def fmt_fixed_signed(value: Any, digits: int = 4) -> str:
    return f"{value:+.{digits}f}" if isinstance(value, int | float) else "—"


def fmt_delta(value: Any) -> str:
    """Differences and tolerances: 0, ∞, or three significant digits."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return "0" if value == 0 else f"{value:.3g}"


def fmt_mean_std(values: list[float]) -> str:
    if not values:
        return "—"
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.4f} ± {std:.4f}"
