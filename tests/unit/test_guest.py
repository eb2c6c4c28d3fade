"""The guest's pure parts on the host's Python, no TensorFlow: the contract, hashing, the
recorder's bookkeeping and a script cell's finishing, with stand-ins for a Keras model.

The guest runs on Python 3.7 inside the TensorFlow environments: every file is also parsed
here with 3.7's grammar.
"""

from __future__ import annotations

import ast
import json
import re
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tfrepro.runner.tfrepro_guest import protocol
from tfrepro.runner.tfrepro_guest.platform import hashing
from tfrepro.runner.tfrepro_guest.platform.compat import variable_names
from tfrepro.runner.tfrepro_guest.protocol import Array, Result, ScriptInfo
from tfrepro.runner.tfrepro_guest.script import finish
from tfrepro.runner.tfrepro_guest.script.recorder import Recorder

RUNNER = Path(__file__).resolve().parents[2] / "src" / "tfrepro" / "runner"
GUEST_FILES = sorted(RUNNER.rglob("*.py"))


@pytest.mark.parametrize("path", GUEST_FILES, ids=lambda p: str(p.relative_to(RUNNER)))
def test_every_guest_file_parses_as_python_3_7(path: Path) -> None:
    ast.parse(path.read_text(), filename=str(path), feature_version=(3, 7))


def test_the_3_7_grammar_check_would_catch_newer_syntax() -> None:
    with pytest.raises(SyntaxError):
        ast.parse("if (n := 3):\n    pass\n", feature_version=(3, 7))


# --- the contract ----------------------------------------------------------------------------
_SUBSCRIPT = re.compile(r"\b(result|arrays|job|spec)(?:\[|\.get\(|\.setdefault\()\"([a-z_]+)")
_INFO = re.compile(r"\binfo(?:\[|\.get\(|\.setdefault\()\"([a-z_]+)")  # a script's info


@pytest.mark.parametrize(
    "path", [p for p in GUEST_FILES if p.name != "protocol.py"], ids=lambda p: p.name
)
def test_the_guest_spells_result_job_and_array_keys_through_the_protocol(path: Path) -> None:
    text = path.read_text()
    literal = _SUBSCRIPT.findall(text) + (_INFO.findall(text) if "script" in path.parts else [])
    assert not literal, f"{path.name}: {literal} (name them in protocol.py)"


def test_protocol_names_are_distinct_within_each_group() -> None:
    for group in (protocol.Kind, protocol.Job, protocol.Result, protocol.Array, protocol.Event):
        values = [v for k, v in vars(group).items() if k.isupper()]
        assert len(values) == len(set(values)), group.__name__


def test_indexed_names_and_counting_them() -> None:
    assert protocol.indexed(Array.GRAD, 3) == "grad_3"
    assert protocol.indexed(Array.BATCH_X, 1, 0) == "bx_1_0"
    names = ["init_0", "init_1", "init_x", "final_0", "initial"]
    assert protocol.count(names, Array.INIT) == 2
    assert protocol.unavailable(protocol.Stage.OPTIMIZER) == "optimizer_unavailable"


# --- hashing -----------------------------------------------------------------------------------
def test_weights_hash_sees_values_dtype_shape_and_order() -> None:
    a, b = np.arange(6, dtype=np.float32), np.ones((2, 3), dtype=np.float32)
    base = hashing.weights_sha256([a, b])
    assert base == hashing.weights_sha256([a.copy(), b.copy()])
    assert base != hashing.weights_sha256([b, a])
    assert base != hashing.weights_sha256([a.astype(np.float64), b])
    assert base != hashing.weights_sha256([a.reshape(2, 3), b])
    changed = a.copy()
    changed[0] = np.nextafter(changed[0], np.float32(1))
    assert base != hashing.weights_sha256([changed, b])


def test_variable_names_prefer_keras_3_paths_then_names() -> None:
    k3 = types.SimpleNamespace(path="dense/kernel", name="kernel")
    k2 = types.SimpleNamespace(name="dense/kernel:0")
    assert variable_names([k3, k2, object()]) == ["dense/kernel", "dense/kernel:0", "w2"]


# --- stand-ins for TensorFlow and Keras --------------------------------------------------------
class _Dataset:
    pass


class _Events:
    def __init__(self) -> None:
        self.emitted: list[tuple[str, dict[str, Any]]] = []

    def emit(self, event: str, **fields: Any) -> None:
        self.emitted.append((event, fields))


class _Model:
    """A compiled Keras model as far as the recorder looks: weights, a name, an optimizer."""

    def __init__(self, name: str, weights: list[np.ndarray] | None, fail_at: str = "") -> None:
        self.name = name
        self._weights = weights
        self.fail_at = fail_at
        self.optimizer = types.SimpleNamespace()
        self.weights = [
            types.SimpleNamespace(path=f"{name}/w{i}") for i in range(len(weights or []))
        ]

    def get_weights(self) -> list[np.ndarray]:
        if self._weights is None:
            raise ValueError(f"Weights for model {self.name} have not yet been created.")
        if self.fail_at == "final" and self.trained:
            raise RuntimeError("a model that cannot give its weights back")
        return [w.copy() for w in self._weights]

    trained = False


def _recorder(tmp_path: Path, **job: Any) -> Recorder:
    tf = types.SimpleNamespace(
        data=types.SimpleNamespace(Dataset=_Dataset), executing_eagerly=lambda: True
    )
    compat = types.SimpleNamespace(tf=tf, tf1=False, keras3=False)
    full = {"seed": 3, "knobs": {}, "script": {"seeding": "cell"}, **job}
    return Recorder(np, compat, full, _Events(), {}, {}, str(tmp_path))


class _Callback:
    pass


def test_a_model_built_inside_fit_is_a_warning_and_the_fit_is_still_recorded(
    tmp_path: Path,
) -> None:
    rec = _recorder(tmp_path)
    model = _Model("sequential", None)  # Keras 2: get_weights raises before the model is built
    x, y = np.zeros((4, 2), np.float32), np.zeros(4, np.int64)
    _, kwargs = rec.before_fit(model, (x, y), {"epochs": 2}, _Callback)
    assert rec.models == [model]
    assert rec.init[id(model)] == (None, [])
    assert any("built inside fit" in w for w in rec.warnings)
    assert isinstance(kwargs["callbacks"][-1], _Callback)  # the loss is still captured
    assert rec.data[0]["sha256"] == hashing.arrays_sha256([("x", x), ("y", y)])


def test_the_recorder_adds_its_callback_to_positional_callbacks(tmp_path: Path) -> None:
    rec = _recorder(tmp_path)
    model = _Model("m", [np.zeros(2)])
    own = object()
    args, kwargs = rec.before_fit(model, (np.zeros(2), np.zeros(2), 1, 1, 0, [own]), {}, _Callback)
    assert args[5][0] is own and isinstance(args[5][1], _Callback)
    assert kwargs == {}


def test_guard_turns_tfrepros_own_errors_into_one_warning_each(tmp_path: Path) -> None:
    rec = _recorder(tmp_path)

    def broken() -> None:
        raise KeyError("x")

    assert rec.guard("loss capture", broken) is None
    assert rec.guard("loss capture", broken) is None
    assert rec.warnings == ["loss capture: KeyError: 'x'"]
    assert rec.events.emitted[0][0] == protocol.Event.HOOK_WARNING


def test_step_losses_and_epoch_logs_are_kept_in_order(tmp_path: Path) -> None:
    rec = _recorder(tmp_path)
    for v in (0.9, 0.7):
        rec.batch_end({"loss": np.float32(v)})
    rec.epoch_end({"loss": 0.7, "accuracy": [0.5], "lr": "not a number"})
    assert rec.fit_losses == [pytest.approx(0.9), pytest.approx(0.7)]
    assert rec.epochs == [{"loss": 0.7, "accuracy": 0.5}]


def _finished(rec: Recorder) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    result: dict[str, Any] = {}
    arrays: dict[str, Any] = {}
    info: dict[str, Any] = {}
    finish.finish(rec, result, arrays, info)
    json.dumps(result)  # what the guest writes must be JSON
    return result, arrays, info


def test_finishing_records_every_trained_model_and_keeps_the_first_ones_arrays(
    tmp_path: Path,
) -> None:
    rec = _recorder(tmp_path)
    first = _Model("first", [np.zeros(3, np.float32)])
    second = _Model("gan", [np.ones(2, np.float32), np.ones(1, np.float32)])
    for m in (first, second):
        rec.before_fit(m, (np.zeros((2, 3)), np.zeros(2)), {}, _Callback)
        rec.batch_end({"loss": 0.5})
    second._weights = [np.full(2, 2.0, np.float32), np.ones(1, np.float32)]  # trained
    result, arrays, info = _finished(rec)
    models = info[ScriptInfo.MODELS]
    assert [m["name"] for m in models] == ["first", "gan"]
    assert models[1]["init_sha256"] != models[1]["final_sha256"]
    assert models[0]["init_sha256"] == models[0]["final_sha256"]
    assert result[Result.FINAL_WEIGHTS_SHA256] == models[0]["final_sha256"]
    assert protocol.count(arrays, Array.FINAL) == 1
    assert list(arrays[Array.WEIGHT_NAMES]) == ["first/w0"]
    assert result[Result.LOSS] == [0.5, 0.5] and info[ScriptInfo.LOSS_FROM] == "keras"
    assert info[ScriptInfo.WARNINGS] == []


def test_a_failure_to_record_one_thing_loses_nothing_else(tmp_path: Path) -> None:
    rec = _recorder(tmp_path)
    broken = _Model("broken", [np.zeros(2, np.float32)], fail_at="final")
    fine = _Model("fine", [np.ones(2, np.float32)])
    for m in (broken, fine):
        rec.before_fit(m, (np.zeros((2, 2)), np.zeros(2)), {}, _Callback)
    rec.batch_end({"loss": 0.25})
    rec.epoch_end({"loss": 0.25, "accuracy": 1.0})
    broken.trained = True
    rec.eval = (object(), np.zeros((2, 2)), None)  # a model whose predict does not exist
    result, arrays, info = _finished(rec)
    assert result[Result.LOSS] == [0.25]
    assert result[Result.METRICS] == {"loss": 0.25, "accuracy": 1.0}
    assert [m["name"] for m in info[ScriptInfo.MODELS]] == ["broken", "fine"]
    assert info[ScriptInfo.MODELS][0]["final_sha256"] is None
    assert info[ScriptInfo.MODELS][1]["final_sha256"] is not None
    assert result[Result.DATA_SHA256] is not None
    assert any(w.startswith("final weights") for w in info[ScriptInfo.WARNINGS])
    assert any(w.startswith("predictions") for w in info[ScriptInfo.WARNINGS])
    assert Array.PREDICTIONS not in arrays


def test_every_kind_of_evidence_gets_its_empty_value_when_its_gathering_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object) -> None:
        raise RuntimeError("tfrepro's own bug")

    for name in ("_loss", "_weights", "_data", "_metrics"):
        monkeypatch.setattr(finish, name, boom)
    rec = _recorder(tmp_path)
    result, _, info = _finished(rec)
    assert result[Result.LOSS] == [] and result[Result.METRICS] == {}
    assert info[ScriptInfo.MODELS] == [] and result[Result.DATA_SHA256] is None
    assert len(info[ScriptInfo.WARNINGS]) == 4


def test_resolved_metrics_name_the_function_each_compiled_metric_computes() -> None:
    from tfrepro.runner.tfrepro_guest.probe import stages

    def binary_accuracy() -> None: ...

    class MeanMetricWrapper:
        metrics = ()  # Keras 2 metrics have an empty `metrics` of their own

        def __init__(self, name: str, fn: Any) -> None:
            self.name, self._fn = name, fn

    class AUC:
        name = "auc"
        metrics = ()

    class Mean:
        name = "loss"

    class CompileMetrics:  # Keras 3 holds the compiled metrics in one container
        name = "compile_metrics"

        def __init__(self, inner: list) -> None:
            self.metrics = inner

    keras2 = types.SimpleNamespace(
        metrics=[Mean(), MeanMetricWrapper("acc", binary_accuracy), AUC()]
    )
    keras3 = types.SimpleNamespace(
        metrics=[Mean(), CompileMetrics([MeanMetricWrapper("accuracy", binary_accuracy), AUC()])]
    )
    expected = {"accuracy": "binary_accuracy", "auc": "auc"}
    assert stages.resolved_metrics(keras2) == expected  # TF 1.x's "acc" is "accuracy"
    assert stages.resolved_metrics(keras3) == expected


def test_arrays_the_host_cannot_load_without_pickle_are_made_plain_or_named() -> None:
    from tfrepro.runner.tfrepro_guest import job

    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = np.zeros(2), np.zeros(3)
    uniform = np.empty(2, dtype=object)
    uniform[0], uniform[1] = np.zeros(2), np.ones(2)
    arrays = {"fwd_0": ragged, "fwd_1": uniform, "init_0": np.arange(3)}
    dropped = job._plain_arrays(np, arrays)
    assert list(dropped) == ["fwd_0"]
    assert arrays["fwd_1"].dtype == np.float64 and arrays["fwd_1"].shape == (2, 2)
    assert "fwd_0" not in arrays and arrays["init_0"].dtype != object
    result: dict[str, Any] = {}
    job._unmeasured(arrays, result, dropped)
    assert result["forward_unavailable"].startswith("array fwd_0 could not be saved")
    assert not any(n.startswith("fwd_") for n in arrays)  # no stage compared with a hole
    assert "init_0" in arrays


def test_a_script_that_enables_eager_itself_is_seen_before_tensorflow_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tfrepro.runner.tfrepro_guest import boot

    (tmp_path / "eager.py").write_text("import tensorflow as tf\ntf.enable_eager_execution()\n")
    (tmp_path / "graph.py").write_text("import tensorflow as tf\nx = tf.placeholder(tf.float32)\n")
    monkeypatch.chdir(tmp_path)

    def job(**script: Any) -> dict:
        return {"kind": "script", "script": {"kind": "file", **script}}

    assert boot._script_enables_eager(job(name="eager.py"))
    assert not boot._script_enables_eager(job(name="graph.py"))
    assert not boot._script_enables_eager(job(name="missing.py"))
    assert boot._script_enables_eager(job(kind="notebook", name="n.ipynb",
                                          source="tf.compat.v1.enable_v2_behavior()"))  # fmt: skip
