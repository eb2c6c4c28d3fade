"""Binary search for the first release that behaves differently. Pure: the judge is given.

`releases[0]` is the known-good reference (never counted as a probe); `releases[-1]` is
verified first, then the interval is halved. With n releases that costs at most
1 + ⌈log2(n - 1)⌉ ≤ ⌈log2 n⌉ + 1 probes. An inconclusive probe stops the search and reports
the interval still open instead of guessing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

Judge = Callable[
    [str], tuple[str, dict[str, Any]]
]  # release -> ("good"|"bad"|"inconclusive", detail)


def max_probes(n: int) -> int:
    return 0 if n < 2 else math.ceil(math.log2(n)) + 1


def search(releases: Sequence[str], judge: Judge) -> dict[str, Any]:
    if len(releases) < 2:
        raise ValueError("bisection needs at least two releases")
    probes: list[dict[str, Any]] = []

    def probe(i: int) -> str:
        verdict, detail = judge(releases[i])
        probes.append({"release": releases[i], "verdict": verdict, **detail})
        return verdict

    lo, hi = 0, len(releases) - 1
    end = probe(hi)
    if end != "bad":
        status = "not-reproduced" if end == "good" else "inconclusive"
        return {
            "status": status,
            "first_bad": None,
            "last_good": None,
            "open_interval": [releases[lo], releases[hi]],
            "probes": probes,
        }
    while hi - lo > 1:
        mid = (lo + hi) // 2
        verdict = probe(mid)
        if verdict == "good":
            lo = mid
        elif verdict == "bad":
            hi = mid
        else:
            return {
                "status": "inconclusive",
                "first_bad": None,
                "last_good": None,
                "open_interval": [releases[lo], releases[hi]],
                "probes": probes,
            }
    return {
        "status": "found",
        "first_bad": releases[hi],
        "last_good": releases[lo],
        "open_interval": None,
        "probes": probes,
    }
