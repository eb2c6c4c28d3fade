"""analysis.divergence on hand-made probes: which stage comes first, against which tolerance."""

from __future__ import annotations

from typing import Any

import numpy as np

from tfrepro.analysis import divergence


def _steps(last: float) -> np.ndarray:
    return np.array([[0.5, 0.5], [0.4, 0.4], [last, 0.3]])


def _probe(**over: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A probe of a one-layer model; keyword arguments replace result keys or arrays."""
    result: dict[str, Any] = {
        "data_sha256": "d" * 64, "data_sha256_used": "d" * 64, "configs": {"opt": {"lr": 0.1}},
        "layer_names": ["dense"], "trainable_names": ["dense/kernel"], "probe_loss": 0.5,
    }
    arrays = {
        "weight_names": np.array(["dense/kernel"]), "batch_index": np.arange(4),
        "init_0": np.ones((2, 2), np.float32), "fwd_0": np.full((4, 2), 0.25, np.float32),
        "grad_0": np.full((2, 2), 0.1, np.float32), "update_0": np.full((2, 2), 1e-3, np.float32),
        "trajectory": _steps(0.3),  # weights after each lockstep step
    }
    for key, value in over.items():
        (arrays if key in arrays else result)[key] = value
    return result, arrays


def _first(b_over: dict[str, Any], tol: dict[str, float] | None = None) -> dict[str, Any]:
    a, a_arrays = _probe()
    b, b_arrays = _probe(**b_over)
    return divergence.first_divergence(divergence.compare_probes(a, a_arrays, b, b_arrays, tol))


def test_identical_probes_diverge_nowhere() -> None:
    assert _first({}) == {"stage": "none", "layer": None}


def test_data_edited_by_the_model_code_is_the_data_stage() -> None:
    # the host sent the same bytes; B's model code changed ctx.data before training
    assert _first({"data_sha256_used": "e" * 64})["stage"] == "data"


def test_probes_without_the_used_hash_compare_what_was_sent() -> None:
    a, a_arrays = _probe()
    b, b_arrays = _probe(data_sha256="e" * 64)
    del a["data_sha256_used"], b["data_sha256_used"]
    stages = divergence.compare_probes(a, a_arrays, b, b_arrays)
    assert stages["data"]["diverged"] and stages["data"]["where"] == "data"


def test_other_batch_order_is_the_data_stage() -> None:
    assert _first({"batch_index": np.array([1, 0, 2, 3])})["stage"] == "data"


def test_forward_difference_within_the_rerun_tolerance_is_not_a_divergence() -> None:
    fwd = np.full((4, 2), 0.25 + 1e-6, np.float32)
    assert _first({"fwd_0": fwd}) == {"stage": "forward", "layer": "dense"}
    assert _first({"fwd_0": fwd}, {"forward": 1e-5})["stage"] == "none"


def test_init_comes_before_a_later_trajectory_gap() -> None:
    b = {"init_0": np.zeros((2, 2), np.float32), "trajectory": _steps(0.31)}
    assert _first(b) == {"stage": "init", "layer": "dense/kernel"}
    assert _first({"trajectory": _steps(0.31)}) == {
        "stage": "trajectory", "layer": "step 2"}
