"""`run --until-settled`'s decisions on compare's rows (the runs: tests/integration)."""

from __future__ import annotations

from typing import Any

from tfrepro.analysis import sequential
from tfrepro.tasks import settle


def _row(**kw: Any) -> dict[str, Any]:
    base = {"a": "2.15.1", "b": "2.16.2", "metric": "loss", "bitwise": False,
            "metric_equal": False, "p_value": 0.5, "tost_p": 0.5, "n_a": 6, "n_b": 6}  # fmt: skip
    return {**base, **kw}


def test_equal_seeds_settle_at_once_and_tests_wait_for_their_boundary() -> None:
    d = sequential.Design(first=6, step=6, max_seeds=30)
    assert sequential.decide(_row(bitwise=True), 0, d) == "bitwise-identical"
    assert sequential.decide(_row(metric_equal=True), 0, d) == "numerically-equal"
    assert sequential.decide(_row(p_value=0.001), 0, d) == "different"
    assert sequential.decide(_row(tost_p=0.001), 0, d) == "equivalent"
    # p 0.03 is "different" for a fixed design at 0.05, not at a look of this one
    assert sequential.decide(_row(p_value=0.03), 0, d) is None
    # fewer ok seeds than the look planned (a failed cell): judged at the earlier look's level
    assert sequential.decide(_row(p_value=0.0150, n_a=6, n_b=5), 1, d) is None
    assert sequential.decide(_row(p_value=0.0150, n_a=12, n_b=12), 1, d) == "different"


def test_the_final_rows_carry_the_look_they_settled_at_and_the_rest_is_inconclusive() -> None:
    rows = [_row(), _row(metric="accuracy")]
    done = {("2.15.1", "2.16.2", "loss"): {"verdict": "equivalent", "look": 3, "seeds": 18}}
    final = settle._final(rows, done)
    assert final[0]["verdict"] == "equivalent" and "look 3 (18 seeds" in final[0]["reason"]
    assert final[1]["verdict"] == "inconclusive" and final[1]["settled"] is None


def test_nothing_to_compare_says_why(capsys: Any) -> None:
    from rich.console import Console

    from tfrepro.report.views import nothing_to_compare

    nothing_to_compare(Console(width=300), "tf_version", 2)
    nothing_to_compare(Console(width=300), "tf_version", 1)
    first, second = capsys.readouterr().out.strip().splitlines()
    assert "ok cells of the 2 groups record no final metric" in first
    assert "fewer than two values of tf_version" in second
