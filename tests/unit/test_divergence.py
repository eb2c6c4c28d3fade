"""analysis.divergence on hand-made probes: which stage comes first, against which tolerance."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tfrepro.analysis import divergence


def _steps(last: float) -> np.ndarray:
    return np.array([[0.5, 0.5], [0.4, 0.4], [last, 0.3]])


def _probe(**over: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A probe of a one-layer model; keyword arguments replace result keys or arrays."""
    result: dict[str, Any] = {
        "data_sha256": "d" * 64,
        "data_sha256_used": "d" * 64,
        "configs": {"opt": {"lr": 0.1}},
        "layer_names": ["dense"],
        "trainable_names": ["dense/kernel"],
        "probe_loss": 0.5,
    }
    arrays = {
        "weight_names": np.array(["dense/kernel"]),
        "batch_index": np.arange(4),
        "init_0": np.ones((2, 2), np.float32),
        "fwd_0": np.full((4, 2), 0.25, np.float32),
        "tfwd_0": np.full((4, 2), 0.25, np.float32),  # training mode
        "grad_0": np.full((2, 2), 0.1, np.float32),
        "update_0": np.full((2, 2), 1e-3, np.float32),
        "trajectory": _steps(0.3),  # weights after each lockstep step
    }
    for key, value in over.items():
        is_array = key in arrays or key.startswith("mstat_")  # moving statistics' updates
        (arrays if is_array else result)[key] = value
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
    assert _first({"trajectory": _steps(0.31)}) == {"stage": "trajectory", "layer": "step 2"}


def test_max_ulp_counts_float32_steps_at_the_arrays_precision() -> None:
    one, two = np.float32(1.0), np.float32(2.0)
    a = np.array([one, two, -0.0, np.inf, np.nan], np.float32)
    b = a.copy()
    b[0], b[2] = np.nextafter(one, two), 0.0  # one float32 step; -0 and +0 are equal
    assert divergence.max_ulp(a, b) == 1.0
    b[1] = two + 3 * np.spacing(two)
    assert divergence.max_ulp(a, b) == 3.0
    b[4] = 1.0  # NaN against a number
    assert divergence.max_ulp(a, b) == float("inf")
    assert divergence.max_ulp(np.arange(3), np.arange(3)) is None  # integers have no ULP
    assert divergence.max_ulp(a, a.astype(np.float64)) is None


def test_forward_stage_reports_the_worst_ulp_of_its_layers() -> None:
    a, a_arrays = _probe()
    fwd = a_arrays["fwd_0"].copy()
    fwd[0, 0] = np.nextafter(fwd[0, 0], np.float32(1))
    fwd[1, 1] += 2 * np.spacing(fwd[1, 1])
    b, b_arrays = _probe(fwd_0=fwd)
    forward = divergence.compare_probes(a, a_arrays, b, b_arrays)["forward"]
    assert forward["max_ulp"] == 2.0 and forward["items"][0]["max_ulp"] == 2.0
    assert forward["max_abs"] == pytest.approx(2 * float(np.spacing(np.float32(0.25))))


def test_training_mode_forward_names_the_layer_that_only_differs_in_training() -> None:
    # inference outputs equal, a dropout mask differs: the training-mode forward stage, at it
    a, a_arrays = _probe(tfwd_0=np.full((4, 2), 0.5, np.float32))
    b, b_arrays = _probe(tfwd_0=np.array([[0.5, 0.0]] * 4, np.float32))
    stages = divergence.compare_probes(a, a_arrays, b, b_arrays)
    assert not stages["forward"]["diverged"]
    assert divergence.first_divergence(stages) == {"stage": "train_forward", "layer": "dense"}


def test_a_round_off_forward_gap_with_a_large_training_mode_gap_names_where_it_is_made() -> None:
    # keras#13892's shape: inference outputs 1 ULP apart, training-mode outputs far apart
    fwd = np.full((4, 2), 0.25, np.float32)
    fwd[0, 0] = np.nextafter(fwd[0, 0], np.float32(1))
    a, a_arrays = _probe(tfwd_0=np.full((4, 2), 0.5, np.float32))
    b, b_arrays = _probe(fwd_0=fwd, tfwd_0=np.full((4, 2), 3.5, np.float32))
    first = divergence.first_divergence(divergence.compare_probes(a, a_arrays, b, b_arrays))
    assert (first["stage"], first["layer"]) == ("forward", "dense")
    gap = first["training_mode"]
    assert (gap["stage"], gap["layer"], gap["max_abs"]) == ("train_forward", "dense", 3.0)
    assert gap["forward_max_abs"] == pytest.approx(float(np.spacing(np.float32(0.25))))


def test_a_training_mode_gap_of_the_same_size_as_the_forward_gap_is_not_singled_out() -> None:
    # the same difference in both modes: the forward stage says it all
    a, a_arrays = _probe()
    b, b_arrays = _probe(
        fwd_0=np.full((4, 2), 0.5, np.float32), tfwd_0=np.full((4, 2), 0.5, np.float32)
    )
    first = divergence.first_divergence(divergence.compare_probes(a, a_arrays, b, b_arrays))
    assert first == {"stage": "forward", "layer": "dense"}


def test_a_stage_a_probe_could_not_measure_is_not_called_equal() -> None:
    why = "the model's layer outputs are not reachable (ValueError: subclassed)"
    a, a_arrays = _probe(forward_unavailable=why, train_forward_unavailable=why)
    b, b_arrays = _probe(probe_loss=0.75)
    stages = divergence.compare_probes(a, a_arrays, b, b_arrays)
    assert stages["forward"]["measured"] is False and stages["forward"]["reason"] == why
    assert not stages["forward"]["bitwise"] and not stages["forward"]["diverged"]
    # the first divergence is the loss, with the unmeasured stages before it named
    assert divergence.first_divergence(stages) == {
        "stage": "loss",
        "layer": "loss",
        "not_measured_before": ["forward", "train_forward"],
    }
    # an unmeasured stage gives no tolerance (a rerun cannot measure it either)
    assert "forward" not in divergence.tolerances(a, a_arrays, b, b_arrays)


def test_an_optimizer_that_cannot_be_copied_is_not_measured_on_either_side() -> None:
    a, a_arrays = _probe()
    b, b_arrays = _probe(optimizer_unavailable="MyOpt cannot be copied with fresh state")
    stage = divergence.compare_probes(a, a_arrays, b, b_arrays)["optimizer"]
    assert stage["measured"] is False and "MyOpt" in stage["reason"]


@pytest.mark.parametrize(
    ("b_batch", "where"),
    [
        (
            [
                {"name": "x", "dtype": "float32", "shape": [4, 2], "sha256": "1"},
                {"name": "y", "dtype": "float64", "shape": [4, 10], "sha256": "3"},
            ],
            "y: dtype float32 → float64",
        ),
        (
            [
                {"name": "x", "dtype": "float32", "shape": [5, 2], "sha256": "1"},
                {"name": "y", "dtype": "float32", "shape": [4, 10], "sha256": "2"},
            ],
            "x: shape [4, 2] → [5, 2]",
        ),
        (
            [
                {"name": "x", "dtype": "float32", "shape": [4, 2], "sha256": "9"},
                {"name": "y", "dtype": "float32", "shape": [4, 10], "sha256": "2"},
            ],
            "x: values",
        ),
        (
            [{"name": "x", "dtype": "float32", "shape": [4, 2], "sha256": "1"}],
            "batch arrays ['x', 'y'] → ['x']",
        ),
    ],
)
def test_a_script_probe_names_the_batch_array_that_differs(
    b_batch: list[dict[str, Any]], where: str
) -> None:
    a_batch = [
        {"name": "x", "dtype": "float32", "shape": [4, 2], "sha256": "1"},
        {"name": "y", "dtype": "float32", "shape": [4, 10], "sha256": "2"},
    ]
    a, a_arrays = _probe(probe_batch=a_batch)
    b, b_arrays = _probe(probe_batch=b_batch, data_sha256_used="e" * 64)
    stages = divergence.compare_probes(a, a_arrays, b, b_arrays)
    assert divergence.first_divergence(stages) == {"stage": "data", "layer": where}


def test_batchnorm_moving_statistics_that_update_differently_are_named() -> None:
    # same training-mode outputs, another moving-mean update (e.g. a momentum default changed)
    names = ["bn/moving_mean", "bn/moving_variance"]
    a, a_arrays = _probe(moving_names=names, mstat_0=np.full(2, 0.01, np.float32),
                         mstat_1=np.zeros(2, np.float32))  # fmt: skip
    b, b_arrays = _probe(moving_names=names, mstat_0=np.full(2, 0.001, np.float32),
                         mstat_1=np.zeros(2, np.float32))  # fmt: skip
    stages = divergence.compare_probes(a, a_arrays, b, b_arrays)
    assert divergence.first_divergence(stages) == {
        "stage": "train_forward",
        "layer": "moving statistics bn/moving_mean",
    }
    items = {i["name"]: i["bitwise"] for i in stages["train_forward"]["items"]}
    assert items == {"dense": True, "moving statistics bn/moving_mean": False,
                     "moving statistics bn/moving_variance": True}  # fmt: skip


def test_a_dtype_change_with_equal_values_is_said_as_such() -> None:
    # Keras 3's to_categorical gives float64 where tf.keras gave float32: same numbers
    a_batch = [{"name": "y", "dtype": "float32", "shape": [4, 10], "sha256": "1",
                "values_sha256": "v"}]  # fmt: skip
    b_batch = [{"name": "y", "dtype": "float64", "shape": [4, 10], "sha256": "2",
                "values_sha256": "v"}]  # fmt: skip
    a, a_arrays = _probe(probe_batch=a_batch)
    b, b_arrays = _probe(probe_batch=b_batch, data_sha256_used="e" * 64)
    data = divergence.compare_probes(a, a_arrays, b, b_arrays)["data"]
    assert data["where"] == "y: dtype float32 → float64, values equal"
    assert data["diverged"] and data["dtype_only"] and data["max_abs"] == 0.0
    b_batch[0]["values_sha256"] = "w"  # other values too: a real data difference
    b, b_arrays = _probe(probe_batch=b_batch, data_sha256_used="e" * 64)
    data = divergence.compare_probes(a, a_arrays, b, b_arrays)["data"]
    assert data["where"] == "y: dtype float32 → float64" and data["max_abs"] == float("inf")
