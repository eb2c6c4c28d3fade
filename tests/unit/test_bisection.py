"""The bisection search against a full linear scan, for every length and change point."""

from __future__ import annotations

import math

import pytest

from tfrepro.analysis.bisection import max_probes, search


def _linear_first_bad(behaviour: list[str]) -> int | None:
    return next((i for i, b in enumerate(behaviour) if b == "bad"), None)


@pytest.mark.parametrize("n", range(2, 40))
def test_finds_the_first_change_within_the_bound(n: int) -> None:
    releases = [f"2.{i}.0" for i in range(n)]
    for change in range(1, n):
        behaviour = ["good"] * change + ["bad"] * (n - change)
        judged: list[str] = []

        def judge(r: str, behaviour: list[str] = behaviour, judged: list[str] = judged):
            judged.append(r)
            return behaviour[releases.index(r)], {}

        result = search(releases, judge)
        assert result["status"] == "found"
        assert releases.index(result["first_bad"]) == _linear_first_bad(behaviour) == change
        assert result["last_good"] == releases[change - 1]
        assert len(result["probes"]) == len(judged) <= math.ceil(math.log2(n)) + 1
        assert len(judged) <= max_probes(n)
        assert releases[0] not in judged  # the reference is never re-probed


def test_bad_end_that_behaves_well_is_not_reproduced() -> None:
    result = search(["a", "b", "c"], lambda r: ("good", {}))
    assert result["status"] == "not-reproduced"
    assert result["first_bad"] is None


def test_inconclusive_probe_stops_and_reports_the_open_interval() -> None:
    releases = [str(i) for i in range(9)]
    answers = {"8": "bad", "4": "good", "6": "inconclusive"}
    result = search(releases, lambda r: (answers[r], {}))
    assert result["status"] == "inconclusive"
    assert result["open_interval"] == ["4", "8"]
    assert [p["release"] for p in result["probes"]] == ["8", "4", "6"]


def test_needs_two_releases() -> None:
    with pytest.raises(ValueError, match="two releases"):
        search(["only"], lambda r: ("bad", {}))
