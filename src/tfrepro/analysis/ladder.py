"""The verdict ladder: the one definition of the verdicts `compare` and `check` give.

Each (pair of groups, metric) gets the first rung that holds (see analysis.compare). A Verdict
is a str (StrEnum): it compares, hashes, formats and JSON-encodes as its value, so rows read back
from JSON (plain strings) and rows fresh from the analysis (Verdicts) are interchangeable.
"""

from __future__ import annotations

import enum


class Verdict(enum.StrEnum):
    BITWISE_IDENTICAL = "bitwise-identical"
    NUMERICALLY_EQUAL = "numerically-equal"
    EQUIVALENT = "equivalent"
    DIFFERENT = "different"
    INCONCLUSIVE = "inconclusive"


# The order compare decides them in: the first rung that holds is the verdict.
LADDER: tuple[Verdict, ...] = (
    Verdict.BITWISE_IDENTICAL,
    Verdict.NUMERICALLY_EQUAL,
    Verdict.EQUIVALENT,
    Verdict.DIFFERENT,
    Verdict.INCONCLUSIVE,
)
# The verdicts an upgrade passes `check` with (and bisect counts as "good").
PASSING: frozenset[Verdict] = frozenset(
    {Verdict.BITWISE_IDENTICAL, Verdict.NUMERICALLY_EQUAL, Verdict.EQUIVALENT}
)
# The order reports show them in, from the best news to the worst. It differs from LADDER:
# `different` is decided before `inconclusive` (a significant difference settles the row), but
# it is the worse news, so reports list it last and their headline follows it.
BY_SEVERITY: tuple[Verdict, ...] = (
    Verdict.BITWISE_IDENTICAL,
    Verdict.NUMERICALLY_EQUAL,
    Verdict.EQUIVALENT,
    Verdict.INCONCLUSIVE,
    Verdict.DIFFERENT,
)
