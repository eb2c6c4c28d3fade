"""Which variants explain tries on a side that does not run, and how a variant that runs is
set against the other side (the runs themselves: tests/integration/test_breaks.py)."""

from __future__ import annotations

from typing import Any

from tfrepro.tasks import breakage


def _cell(tf: str, keras: str, numpy: str, **extra: Any) -> dict[str, Any]:
    return {"tf_version": tf, "keras_version": keras, "numpy_version": numpy, "status": "failed",
            "knobs": {"legacy_keras": False, "optimizer_impl": "keras"}, **extra}  # fmt: skip


def _names(failing: dict[str, Any], other: dict[str, Any]) -> list[str]:
    return [v.name for v in breakage.variants(failing, other)]


def test_variants_are_the_changes_that_mean_something_on_the_failing_release() -> None:
    k2 = _cell("2.15.1", "2.15.0", "1.26.4")
    k3 = _cell("2.16.2", "3.4.1", "1.26.4")
    k3_np2 = _cell("2.21.0", "3.13.2", "2.4.2")
    assert _names(k3, k2) == ["legacy_keras"]
    assert _names(k3_np2, k3) == ["legacy_keras", "numpy<2", "keras==3.4.1"]  # A's Keras 3
    assert _names(k2, k3) == ["keras==3.4.1"]  # a Keras 3 script on Keras 2: A's Keras 3
    tf211 = _cell("2.11.1", "2.11.0", "1.24.2")
    assert _names(tf211, _cell("2.10.1", "2.10.0", "1.23.4")) == ["optimizer_impl=legacy"]
    # nothing to try: a TF 1 script on TF 2.3 (the script must change)
    assert _names(_cell("2.3.4", "2.4.0", "1.18.5"), _cell("1.15.5", "2.2.4-tf", "1.18.5")) == []
    # Keras 3 cannot be installed before TF 2.15
    assert _names(_cell("2.14.1", "2.14.0", "1.26.4"), k3) == []


def test_combined_variants_carry_both_changes() -> None:
    legacy, numpy1, _ = breakage.variants(
        _cell("2.21.0", "3.13.2", "2.4.2"),
        _cell("2.16.2", "3.4.1", "1.26.4"),
    )
    both = breakage.combine(legacy, numpy1)
    assert both.name == "legacy_keras + numpy<2"
    assert both.knobs == {"legacy_keras": True} and both.requirements == ["numpy<2"]


def test_a_variant_that_runs_is_set_against_the_other_side() -> None:
    a = {"final_weights_sha256": "x", "metrics": {"loss": 0.5, "acc": 0.9}}
    same = breakage.against(a, {**a})
    assert same["verdict"] == "bitwise-identical" and same["weights"] == "identical"
    close = breakage.against(a, {"final_weights_sha256": "y", "metrics": {"loss": 0.5, "acc": 0.9}})
    assert close["verdict"] == "numerically-equal" and close["weights"] == "differ"
    far = breakage.against(a, {"final_weights_sha256": "y", "metrics": {"loss": 0.7}})
    assert far["verdict"] == "differs on this seed"
    assert far["metrics"] == {"loss": {"a": 0.5, "b": 0.7, "diff": 0.7 - 0.5}}
    # no weights, no metric in common: never "equal"
    unknown = breakage.against({"metrics": {}}, {"metrics": {"x": 1.0}})
    assert unknown["verdict"] == "differs on this seed" and unknown["weights"] == "unknown"
