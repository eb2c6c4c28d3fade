# ruff: noqa: E501, W293  (tracebacks quoted as recorded)
"""Failure signatures read from real tracebacks, and the known-breaks table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tfrepro.analysis import breaks

CORPUS = Path(__file__).resolve().parents[1] / "corpus"

# Recorded by a 2.16 cell of tests/corpus/34_keras2_legacy_idioms.py (Python 3.11: caret lines).
KERAS3_LR = """Traceback (most recent call last):
  File "/work/tfcache/x/runner/tfrepro_guest/script/run.py", line 78, in _run_script
    _execute(script)
  File "<frozen runpy>", line 291, in run_path
  File "/tmp/cells/ab12/cwd/34_keras2_legacy_idioms.py", line 63, in <module>
    model.compile(optimizer=Adam(lr=0.003), loss="binary_crossentropy", metrics=["accuracy"])
                            ^^^^^^^^^^^^^^
  File "/env/lib/python3.11/site-packages/keras/src/optimizers/adam.py", line 62, in __init__
    super().__init__(
  File "/env/lib/python3.11/site-packages/keras/src/optimizers/base_optimizer.py", line 37, in __init__
    raise ValueError(f"Argument(s) not recognized: {kwargs}")
ValueError: Argument(s) not recognized: {'lr': 0.003}
"""

# Python 3.7 (TF 2.0), raised in the user's own line, after a chained exception.
TF1_API = """Traceback (most recent call last):
  File "/env/lib/python3.7/site-packages/numpy/core/fromnumeric.py", line 61, in _wrapfunc
    return bound(*args, **kwds)
TypeError: wrong

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/usr/lib/python3.7/runpy.py", line 263, in run_path
    pkg_name=pkg_name, script_name=fname)
  File "/home/u/proj/cwd/train/tf1.py", line 12, in <module>
    tf.set_random_seed(0)
AttributeError: module 'tensorflow' has no attribute 'set_random_seed'
"""


def test_signature_of_a_keras3_break_names_the_user_line_and_the_package() -> None:
    sig = breaks.signature(KERAS3_LR)
    assert sig is not None
    assert sig["type"] == "ValueError"
    assert sig["message"] == "Argument(s) not recognized: {'lr': 0.003}"
    assert sig["user_frame"] == {
        "file": "34_keras2_legacy_idioms.py",
        "line": 63,
        "function": "<module>",
        "code": 'model.compile(optimizer=Adam(lr=0.003), loss="binary_crossentropy", '
        'metrics=["accuracy"])',
    }
    assert sig["library_frame"] is not None
    assert sig["library_frame"]["file"].endswith("keras/src/optimizers/base_optimizer.py")
    assert sig["package"] == "keras"
    assert "at 34_keras2_legacy_idioms.py:63 (raised in keras)" in breaks.describe(sig)


def test_signature_takes_the_last_exception_and_the_module_its_message_names() -> None:
    sig = breaks.signature(TF1_API)
    assert sig is not None
    assert sig["type"] == "AttributeError"
    assert sig["user_frame"] is not None and sig["user_frame"]["file"] == "train/tf1.py"
    assert sig["library_frame"] is None
    assert sig["package"] == "tensorflow"


def test_qualified_exception_types_are_shortened() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "/p/cwd/s.py", line 3, in <module>\n'
        "    sess.run(x)\n"
        '  File "/e/lib/python3.7/site-packages/tensorflow_core/python/client/session.py", '
        "line 956, in run\n"
        "    run_metadata_ptr)\n"
        "tensorflow.python.framework.errors_impl.InvalidArgumentError: You must feed a value\n"
        "\t [[node x]]\n"
    )
    sig = breaks.signature(text)
    assert sig is not None
    assert (sig["type"], sig["message"], sig["package"]) == (
        "InvalidArgumentError",
        "You must feed a value [[node x]]",
        "tensorflow_core",
    )


# TF 2.7, tests/corpus/42_fit_1d_feature.py: autograph quotes the traced function's frames
# inside the message; the Keras layer error is two lines down.
AUTOGRAPH = """Traceback (most recent call last):
  File "/c/cwd/42_fit_1d_feature.py", line 34, in <module>
    history = model.fit(xs[:320], ys[:320], epochs=5, batch_size=32, verbose=0)
  File "/e/lib/python3.9/site-packages/keras/utils/traceback_utils.py", line 67, in error_handler
    raise e.with_traceback(filtered_tb) from None
  File "/e/lib/python3.9/site-packages/tensorflow/python/framework/func_graph.py", line 1129, in autograph_handler
    raise e.ag_error_metadata.to_exception(e)
ValueError: in user code:

    File "/e/lib/python3.9/site-packages/keras/engine/training.py", line 878, in train_function  *
        return step_function(self, iterator)
    File "/e/lib/python3.9/site-packages/keras/engine/input_spec.py", line 227, in assert_input_compatibility
        raise ValueError(f'Input {input_index} of layer "{layer_name}" '

    ValueError: Exception encountered when calling layer "sequential" (type Sequential).
    
    Input 0 of layer "dense" is incompatible with the layer: expected min_ndim=2, found ndim=1. Full shape received: (32,)
"""


def test_autograph_errors_keep_the_inner_message_and_the_quoted_library_frame() -> None:
    sig = breaks.signature(AUTOGRAPH)
    assert sig is not None
    assert sig["message"].startswith("in user code: ValueError: Exception encountered when calling")
    assert "expected min_ndim=2, found ndim=1" in sig["message"]
    assert "File" not in sig["message"]
    assert sig["library_frame"]["file"].endswith("keras/engine/input_spec.py")
    assert sig["package"] == "keras"
    assert sig["user_frame"]["line"] == 34
    assert breaks.match(sig, tf_version="2.7.4")["id"] == "fit-1d-input-not-expanded"
    assert breaks.match(sig, tf_version="2.6.5") is None


@pytest.mark.parametrize(
    "text", [None, "", "killed by signal 9", "Traceback (most recent call last):\n"]
)
def test_no_signature_without_a_readable_traceback(text: str | None) -> None:
    assert breaks.signature(text) is None


def test_key_ignores_addresses_and_ids_but_not_the_user_line() -> None:
    a = breaks.signature(KERAS3_LR.replace("0.003", "0.003 at 0x7f3a2c"))
    b = breaks.signature(KERAS3_LR.replace("0.003", "0.003 at 0x7f99ff"))
    c = breaks.signature(KERAS3_LR.replace("line 63", "line 64"))
    assert a and b and c
    assert breaks.key(a) == breaks.key(b) != breaks.key(c)


def test_known_break_matches_by_type_message_and_release_range() -> None:
    sig = breaks.signature(KERAS3_LR)
    hit = breaks.match(sig, tf_version="2.16.2")
    assert hit is not None and hit["id"] == "keras3-optimizer-arguments"
    assert hit["remedy"] == ["legacy_keras"]
    assert breaks.match(sig, tf_version="2.15.1") is None  # before it was introduced
    keras3_on_2 = breaks.signature(
        KERAS3_LR.replace(
            "ValueError: Argument(s) not recognized: {'lr': 0.003}",
            "ImportError: cannot import name 'ops' from 'keras' (/e/site-packages/keras/__init__.py)",
        )
    )
    assert breaks.match(keras3_on_2, tf_version="2.15.1")["id"] == "keras3-only-api-on-keras2"
    assert breaks.match(keras3_on_2, tf_version="2.16.1") is None  # `until`


def test_group_failures_by_signature_oldest_release_first() -> None:
    cells = [
        {"status": "failed", "tf_version": v, "traceback": KERAS3_LR, "reason": "x"}
        for v in ("2.21.0", "2.16.2", "2.16.2")
    ]
    cells.append({"status": "ok", "tf_version": "2.15.1", "traceback": None})
    cells.append({"status": "failed", "tf_version": "2.15.1", "traceback": None, "reason": "boom"})
    groups = breaks.group_failures(cells)
    assert [g["first"] for g in groups] == ["2.15.1", "2.16.2"]
    assert groups[0]["describe"] == "boom" and groups[0]["signature"] is None
    assert groups[1]["releases"] == ["2.16.2", "2.21.0"] and groups[1]["cells"] == 3
    assert groups[1]["known"]["id"] == "keras3-optimizer-arguments"


def test_every_known_break_is_complete_and_exercised_by_a_corpus_script() -> None:
    seen = set()
    for entry in breaks.known():
        assert entry["id"] not in seen
        seen.add(entry["id"])
        for field in ("title", "component", "since", "type", "message", "hint", "source"):
            assert entry[field], (entry["id"], field)
        assert set(entry["remedy"]) <= set(breaks.REMEDIES), entry["id"]
        re.compile(entry["message"])
        assert entry["corpus"], entry["id"]
        for script in entry["corpus"]:
            text = (CORPUS / script).read_text()
            lines = re.findall(r"^breaks:\s*(.+)$", text, re.M)
            # the script's `breaks:` line quotes the failure the entry recognises
            assert any(re.search(entry["message"], ln) for ln in lines), (entry["id"], script)


def test_only_a_script_that_raised_or_exited_non_zero_is_a_break() -> None:
    assert breaks.script_failed({"status": "failed", "traceback": "Traceback…"})
    assert breaks.script_failed({"status": "failed", "script": {"exit_code": 3}})
    env = {"status": "failed", "reason": "building the environment … failed", "script": None}
    assert not breaks.script_failed(env)
    assert not breaks.script_failed({"status": "timeout", "traceback": "x"})
