"""Every malformed spec or argument ends in ONE line on stderr that names what was wrong.

Each case asserts: the exit code (2 for usage and spec errors), exactly one stderr line
starting with "tfrepro: error:", the wrong key/argument named in it, nothing on stdout and
no traceback anywhere. The autouse fixture in conftest.py makes any environment build
fail the test, so these also prove that errors surface before anything is built.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tfrepro import cli
from tfrepro.envs import interpreters

RUN = ("run",)
TF = ("--tf", "2.16")
DRY = ("--dry-run",)


def npz_without_y_test(path: Path) -> None:
    np.savez(
        path,
        x_train=np.zeros((20, 3)),
        y_train=np.zeros(20, dtype=np.int32),
        x_test=np.zeros((5, 3)),
    )


def empty_store(path: Path) -> None:
    """A store with no cells, in the folder of `path`."""
    from tfrepro.store import Store

    Store(path.parent).close()


def damaged_store(path: Path) -> None:
    """A store whose data pages (all but the first) are overwritten: sqlite's header is fine,
    its tables are not."""
    from tfrepro.store import Store

    Store(path.parent).close()
    db = path.parent / "tfrepro.sqlite"
    data = bytearray(db.read_bytes())
    data[4096:] = b"\xde\xad" * ((len(data) - 4096) // 2)
    db.write_bytes(bytes(data))


def spec(body: str, tf: bool = True) -> str:
    """A spec file: `body`, plus a [matrix] table with tf = ["2.16"] unless body has one."""
    if tf and "[matrix]" not in body:
        body += '\n[matrix]\ntf = ["2.16"]\n'
    elif tf:
        body = body.replace("[matrix]", '[matrix]\ntf = ["2.16"]', 1)
    return body


@dataclass
class Case:
    argv: tuple[str, ...]
    needles: tuple[str, ...]  # each must appear in the error line
    files: dict[str, str | bytes | Callable[[Path], None]] = field(default_factory=dict)
    code: int = 2


GOOD_MODEL = "def build_model(ctx):\n    return None\n"

CASES: dict[str, Case] = {
    # --- releases --------------------------------------------------------------------------
    "unknown release": Case((*RUN, "--tf", "2.99", *DRY), ("unknown TensorFlow release", "'2.99'")),
    "unknown patch": Case((*RUN, "--tf", "2.16.9", *DRY), ("'2.16.9'",)),
    "release is not a version": Case((*RUN, "--tf", "banana", *DRY), ("'banana'", "2.16.1")),
    "empty release range": Case((*RUN, "--tf", "2.16..2.12", *DRY), ("'2.16..2.12'", "empty")),
    "release in the spec": Case(
        (*RUN, "exp.toml", *DRY), ("'2.99'",), {"exp.toml": '[matrix]\ntf = ["2.99"]\n'}
    ),
    "no release at all": Case((*RUN, *DRY), ("--tf", "matrix.tf")),
    # --- interpreters ----------------------------------------------------------------------
    "python path does not exist": Case(
        (*RUN, *TF, "--python", "/nonexistent", *DRY),
        ("--python /nonexistent", "not a working Python"),
    ),
    # --- the spec file ---------------------------------------------------------------------
    "missing spec file": Case((*RUN, "nope.toml", *DRY), ("nope.toml", "does not exist")),
    "spec path is a folder": Case(
        (*RUN, "folder", *DRY), ("'folder'", "cannot be read"), {"folder/x": ""}
    ),
    "bad TOML syntax": Case(
        (*RUN, "exp.toml", *DRY),
        ("exp.toml", "invalid TOML", "line 1"),
        {"exp.toml": "[matrix\ntf = ['2.16']\n"},
    ),
    "spec is not text": Case(
        (*RUN, "exp.toml", *DRY), ("exp.toml", "UTF-8"), {"exp.toml": b"\xff\xfe\x00\x01"}
    ),
    "unknown top-level key": Case(
        (*RUN, "exp.toml", *DRY), ("unknown key 'colour'",), {"exp.toml": spec('colour = "red"\n')}
    ),
    "unknown table key": Case(
        (*RUN, "exp.toml", *DRY),
        ("unknown key 'train.epoch'",),
        {"exp.toml": spec("[train]\nepoch = 3\n")},
    ),
    "unknown knob": Case(
        (*RUN, "exp.toml", *DRY),
        ("unknown key 'matrix.knobs.foo'",),
        {"exp.toml": spec("[matrix]\n[matrix.knobs]\nfoo = [1]\n")},
    ),
    "epochs is text": Case(
        (*RUN, "exp.toml", *DRY),
        ("train.epochs", "'three'"),
        {"exp.toml": spec('[train]\nepochs = "three"\n')},
    ),
    "seeds is a string": Case(
        (*RUN, "exp.toml", *DRY),
        ("matrix.seeds", "list"),
        {"exp.toml": spec('[matrix]\nseeds = "0"\n')},
    ),
    "negative seed in spec": Case(
        (*RUN, "exp.toml", *DRY),
        ("matrix.seeds", "-1"),
        {"exp.toml": spec("[matrix]\nseeds = [0, -1]\n")},
    ),
    "duplicate seeds in spec": Case(
        (*RUN, "exp.toml", *DRY),
        ("matrix.seeds", "repeated"),
        {"exp.toml": spec("[matrix]\nseeds = [1, 2, 1]\n")},
    ),
    "batch size zero": Case(
        (*RUN, "exp.toml", *DRY),
        ("train.batch_size", "greater than 0"),
        {"exp.toml": spec("[train]\nbatch_size = 0\n")},
    ),
    "test fraction above one": Case(
        (*RUN, "exp.toml", *DRY),
        ("data.test_fraction", "1.5"),
        {"exp.toml": spec("[data]\ntest_fraction = 1.5\n")},
    ),
    "bad env var name": Case(
        (*RUN, "exp.toml", *DRY),
        ("matrix.env", "'1BAD'"),
        {"exp.toml": spec('[matrix]\nenv = { 1BAD = ["x"] }\n')},
    ),
    "bad requirement": Case(
        (*RUN, "exp.toml", *DRY),
        ("matrix.requirements", "'pandas ==== 2'"),
        {"exp.toml": spec('[matrix]\nrequirements = ["pandas ==== 2"]\n')},
    ),
    "bad resolution in spec": Case(
        (*RUN, "exp.toml", *DRY),
        ("matrix.resolution", "'newest'"),
        {"exp.toml": spec('[matrix]\nresolution = "newest"\n')},
    ),
    "bad knob value": Case(
        (*RUN, "exp.toml", *DRY),
        ("matrix.knobs.onednn", "'maybe'"),
        {"exp.toml": spec('[matrix]\n[matrix.knobs]\nonednn = ["maybe"]\n')},
    ),
    "table is a value": Case(
        (*RUN, "exp.toml", *DRY), ("train", "dictionary"), {"exp.toml": spec("train = 3\n")}
    ),
    # --- model -----------------------------------------------------------------------------
    "unknown builtin model": Case(
        (*RUN, "exp.toml", *DRY),
        ("model.source", "'builtin:resnet'"),
        {"exp.toml": spec('[model]\nsource = "builtin:resnet"\n')},
    ),
    "unknown builtin model flag": Case(
        (*RUN, *TF, "--model", "builtin:resnet", *DRY), ("model.source", "'builtin:resnet'")
    ),
    "model file missing": Case(
        (*RUN, "exp.toml", *DRY),
        ("model.source", "nope.py", "does not exist"),
        {"exp.toml": spec('[model]\nsource = "nope.py"\n')},
    ),
    "model without build_model": Case(
        (*RUN, "exp.toml", *DRY),
        ("net.py", "build_model"),
        {"exp.toml": spec('[model]\nsource = "net.py"\n'), "net.py": "def build(ctx):\n    pass\n"},
    ),
    "model syntax error": Case(
        (*RUN, "exp.toml", *DRY),
        ("net.py", "syntax error at line 2"),
        {
            "exp.toml": spec('[model]\nsource = "net.py"\n'),
            "net.py": "def build_model(ctx):\n    return (\n",
        },
    ),
    "model file is a folder": Case(
        (*RUN, "exp.toml", *DRY),
        ("model.source", "net.py"),
        {"exp.toml": spec('[model]\nsource = "net.py"\n'), "net.py/x": ""},
    ),
    "model is not python": Case(
        (*RUN, *TF, "--model", "net.txt", *DRY), ("model.source", "'net.txt'")
    ),
    # --- data ------------------------------------------------------------------------------
    "unknown dataset": Case(
        (*RUN, "exp.toml", *DRY),
        ("data.name", "'mnist'"),
        {"exp.toml": spec('[data]\nname = "mnist"\n')},
    ),
    "unknown dataset flag": Case((*RUN, *TF, "--data", "mnist", *DRY), ("data.name", "'mnist'")),
    "npz file missing": Case(
        (*RUN, "exp.toml", *DRY),
        ("data.name", "gone.npz", "does not exist"),
        {"exp.toml": spec('[data]\nname = "gone.npz"\n')},
    ),
    "npz lacks y_test": Case(
        (*RUN, "exp.toml", *DRY),
        ("data.name", "y_test"),
        {"exp.toml": spec('[data]\nname = "d.npz"\n'), "d.npz": npz_without_y_test},
    ),
    "npz is not an npz": Case(
        (*RUN, *TF, "--data", "d.npz", *DRY), ("data.name", "d.npz"), {"d.npz": "just text"}
    ),
    "impossible synthetic data": Case(
        (*RUN, "exp.toml", *DRY),
        ("data", "synthetic", "n_classes"),
        {"exp.toml": spec('[data]\nname = "synthetic"\nn_classes = 50\nn_features = 2\n')},
    ),
    "test split smaller than the classes": Case(
        (*RUN, "exp.toml", *DRY),
        ("data", "iris", "test_fraction"),
        {"exp.toml": spec('[data]\nname = "iris"\ntest_fraction = 0.01\n')},
    ),
    # --- command-line flags ----------------------------------------------------------------
    "negative seed flag": Case((*RUN, *TF, "--seeds", "-1", *DRY), ("--seeds", "non-negative")),
    "seeds are not numbers": Case((*RUN, *TF, "--seeds", "a,b", *DRY), ("--seeds", "'a'")),
    "empty seed range": Case((*RUN, *TF, "--seeds", "3..1", *DRY), ("--seeds", "'3..1'", "empty")),
    "duplicate seeds flag": Case((*RUN, *TF, "--seeds", "0,0", *DRY), ("matrix.seeds", "repeated")),
    "jobs zero": Case((*RUN, *TF, "--jobs", "0", *DRY), ("--jobs", "at least 1")),
    "jobs not a number": Case((*RUN, *TF, "--jobs", "two", *DRY), ("--jobs", "'two'")),
    "negative timeout": Case((*RUN, *TF, "--timeout", "-5", *DRY), ("--timeout", "positive")),
    "epochs zero flag": Case((*RUN, *TF, "--epochs", "0", *DRY), ("--epochs",)),
    "bad resolution flag": Case(
        (*RUN, *TF, "--resolution", "newest", *DRY), ("--resolution", "'newest'")
    ),
    "unknown flag": Case((*RUN, *TF, "--bogus", *DRY), ("--bogus",)),
    "two spec files": Case((*RUN, "a.toml", "b.toml", *DRY), ("b.toml",)),
    "demo jobs zero": Case(("demo", "--jobs", "0", *DRY), ("--jobs",)),
    # --- other commands --------------------------------------------------------------------
    "cells on an empty folder": Case(
        ("cells", "--store", "empty"), ("empty'", "--store"), {"empty/.keep": ""}, code=1
    ),
    "cells on a corrupt store": Case(
        ("cells", "--store", "st"), ("store", "st"), {"st/tfrepro.sqlite": b"garbage" * 200}, code=1
    ),
    "envs prune without a choice": Case(
        ("envs", "prune", "--cache", "c"), ("--older-than", "--all")
    ),
    "envs without an action": Case(("envs",), ("envs", "list, build or prune")),
    "envs unknown action": Case(("envs", "frob"), ("'frob'",)),
    "envs build without --tf": Case(("envs", "build"), ("--tf",)),
    "envs build unknown release": Case(
        ("envs", "build", "--tf", "2.99", "--cache", "c"), ("'2.99'",)
    ),
    # --- bisect and explain ------------------------------------------------------------------
    "bisect unknown release": Case(("bisect", "--good", "2.99", "--bad", "2.11"), ("'2.99'",)),
    "bisect same release": Case(("bisect", "--good", "2.9", "--bad", "2.9"), ("same release",)),
    "bisect without --bad": Case(("bisect", "--good", "2.9"), ("--bad",)),
    "bisect unknown criterion": Case(
        ("bisect", "--good", "2.9", "--bad", "2.11", "--criterion", "loss"), ("'loss'",)
    ),
    "bisect max-seeds below seeds": Case(
        (
            "bisect",
            "--good",
            "2.9",
            "--bad",
            "2.11",
            "--criterion",
            "metric",
            "--seeds",
            "0,1,2",
            "--max-seeds",
            "2",
        ),
        ("--max-seeds 2", "3 seeds"),
    ),
    "explain negative seed": Case(("explain", "2.9", "2.15", "--seed", "-1"), ("--seed",)),
    "explain unknown release": Case(("explain", "2.9", "2.99"), ("'2.99'",)),
    "explain unknown knob to flip": Case(
        ("explain", "2.9", "2.15", "--knobs", "onednn,turbo"), ("--knobs", "turbo", "onednn")
    ),
    "unknown subcommand": Case(("frobnicate",), ("'frobnicate'",)),
    "versions unknown flag": Case(("versions", "--bogus"), ("--bogus",)),
    # --- strict numbers: no NaN or infinity for a number, no bool or string for one ----------
    "nan timeout": Case((*RUN, *TF, "--timeout", "nan", *DRY), ("--timeout", "finite", "'nan'")),
    "infinite timeout": Case((*RUN, *TF, "--timeout", "inf", *DRY), ("--timeout", "finite")),
    "nan alpha": Case(("compare", "--alpha", "nan"), ("--alpha", "finite")),
    "nan older-than": Case(("envs", "prune", "--older-than", "nan"), ("--older-than", "finite")),
    "explain nan timeout": Case(("explain", "2.9", "2.15", "--timeout", "nan"), ("--timeout",)),
    "bool batch_size": Case(
        (*RUN, "s.toml", *DRY),
        ("train.batch_size", "integer", "True"),
        {"s.toml": spec("[train]\nbatch_size = true\n")},
    ),
    "bool learning_rate": Case(
        (*RUN, "s.toml", *DRY),
        ("train.learning_rate", "number"),
        {"s.toml": spec("[train]\nlearning_rate = true\n")},
    ),
    "float epochs": Case(
        (*RUN, "s.toml", *DRY),
        ("train.epochs", "integer", "2.5"),
        {"s.toml": spec("[train]\nepochs = 2.5\n")},
    ),
    "string epochs": Case(
        (*RUN, "s.toml", *DRY), ("train.epochs", "'3'"), {"s.toml": spec('[train]\nepochs = "3"\n')}
    ),
    "nan timeout in the spec": Case(
        (*RUN, "s.toml", *DRY), ("timeout",), {"s.toml": spec("timeout = nan\n")}
    ),
    "compare on an empty store": Case(
        ("compare", "--store", "st"), ("no cells yet", "tfrepro run"), {"st/.keep": empty_store}
    ),
    # --- found by a demanding user (issue 10) -----------------------------------------------
    "huge seed range": Case(
        (*RUN, *TF, "--seeds", "0..100000000", *DRY), ("--seeds", "0..100000000", "at most")
    ),
    "huge seed range for bisect": Case(
        ("bisect", "--good", "2.15", "--bad", "2.16", "--seeds", "0..99999"), ("--seeds",)
    ),
    "cache is a file": Case(
        (*RUN, *TF, "--cache", "afile", *DRY), ("--cache", "afile", "folder"), {"afile": "x"}
    ),
    "envs list with a cache that is a file": Case(
        ("envs", "list", "--cache", "afile"), ("--cache", "afile"), {"afile": "x"}
    ),
    "envs build with a cache that is a file": Case(
        ("envs", "build", "--tf", "2.16", "--cache", "afile"), ("--cache",), {"afile": "x"}
    ),
    "garbage npz": Case(
        (*RUN, *TF, "--data", "g.npz", *DRY),
        ("g.npz", "not an .npz archive", "numpy.savez"),
        {"g.npz": b"\x00garbage\xff" * 50},
    ),
    "empty npz": Case(
        (*RUN, *TF, "--data", "e.npz", *DRY), ("e.npz", "not an .npz archive"), {"e.npz": b""}
    ),
    "cells on a damaged store": Case(
        ("cells", "--store", "st"), ("st", "damaged"), {"st/.keep": damaged_store}, code=1
    ),
    "compare on a damaged store": Case(
        ("compare", "--store", "st"), ("st", "damaged"), {"st/.keep": damaged_store}, code=1
    ),
    "report on a damaged store": Case(
        ("report", "--store", "st"), ("st", "damaged"), {"st/.keep": damaged_store}, code=1
    ),
    "cells --json on a damaged store": Case(
        ("cells", "--json", "--store", "st"),
        ("damaged", ".recover"),
        {"st/.keep": damaged_store},
        code=1,
    ),
    "zero-byte store": Case(
        ("cells", "--store", "st"), ("st",), {"st/tfrepro.sqlite": b""}, code=1
    ),
    "timeout is text in the spec": Case(
        (*RUN, "s.toml", *DRY), ("timeout",), {"s.toml": spec('timeout = "soon"\n')}
    ),
    "explain steps zero": Case(("explain", "2.15", "2.16", "--steps", "0"), ("--steps",)),
    "explain fit on a model cell": Case(
        ("explain", "2.15", "2.16", "--fit", "2"), ("--fit", "only with a script")
    ),
    "explain fit zero": Case(("explain", "2.15", "2.16", "--fit", "0"), ("--fit",)),
    "explain seed is text": Case(("explain", "2.15", "2.16", "--seed", "x"), ("--seed",)),
    "alpha above one": Case(("compare", "--alpha", "1.5"), ("--alpha",)),
    "negative margin": Case(("compare", "--margin", "-1"), ("--margin",)),
    "negative older-than": Case(("envs", "prune", "--older-than", "-3"), ("--older-than",)),
    "negative jobs": Case((*RUN, *TF, "--jobs", "-2", *DRY), ("--jobs",)),
    "seed range with a bad end": Case((*RUN, *TF, "--seeds", "0..x", *DRY), ("--seeds", "0..x")),
    "bisect nan timeout": Case(
        ("bisect", "--good", "2.15", "--bad", "2.16", "--timeout", "nan"), ("--timeout",)
    ),
    "seeds is a bool in the spec": Case(
        (*RUN, "s.toml", *DRY), ("seeds",), {"s.toml": spec("[matrix]\nseeds = [true]\n")}
    ),
    # --- found by a bad-input battery (issue 11) ------------------------------------------------
    "store is a file in a dry run": Case(
        (*RUN, *TF, "--store", "afile", *DRY),
        ("--store", "'afile'", "is a file, not a folder", "give a folder"),
        {"afile": "x"},
    ),
    "store is a file": Case(
        (*RUN, *TF, "--store", "afile"), ("--store", "'afile'", "not a folder"), {"afile": "x"}
    ),
    "store inside a file": Case(
        (*RUN, *TF, "--store", "afile/st", *DRY),
        ("--store", "'afile/st'", "('afile' is a file"),
        {"afile": "x"},
    ),
    "check baseline is a folder": Case(
        ("check", "--baseline", "adir"),
        ("--baseline", "'adir'", "(a folder)", "tfrepro baseline save FILE"),
        {"adir/x": ""},
    ),
    "check baseline is the store folder": Case(
        ("check", "--baseline", "st", "--store", "st"),
        ("'st'", "result store's folder", "tfrepro baseline save baseline.json --store st"),
        {"st/.keep": empty_store},
    ),
    "check baseline is a JSON list": Case(
        ("check", "--baseline", "b.json"),
        ("'b.json'", "a JSON array, not a JSON object", "tfrepro baseline save FILE"),
        {"b.json": "[1, 2]"},
    ),
    "check baseline is cells --json output": Case(
        ("check", "--baseline", "cells.json"),
        ("'cells.json'", "output of `tfrepro cells --json`", "tfrepro baseline save FILE"),
        {"cells.json": '[{"id": "0f5e", "tf_version": "2.16.2", "status": "ok"}]'},
    ),
    "check baseline is a JSON object of another kind": Case(
        ("check", "--baseline", "o.json"),
        ("'o.json'", "without a 'format' key", "tfrepro baseline save FILE"),
        {"o.json": '{"outcome": "pass", "rows": []}'},
    ),
    "check baseline is the store's sqlite file": Case(
        ("check", "--baseline", "st/tfrepro.sqlite", "--store", "st"),
        ("'st/tfrepro.sqlite'", "SQLite database", "baseline save baseline.json --store st"),
        {"st/.keep": empty_store},
    ),
    "check baseline is not text": Case(
        ("check", "--baseline", "b.json"),
        ("'b.json'", "not UTF-8", "tfrepro baseline save FILE"),
        {"b.json": b"\xff\xfe\x00"},
    ),
    "until-settled max-seeds below the first round": Case(
        (*RUN, "--tf", "2.15,2.16", "--until-settled", "--round", "6", "--max-seeds", "4"),
        ("--max-seeds 4", "first round of 6 seeds"),
    ),
    "until-settled with one release": Case(
        (*RUN, *TF, "--until-settled"), ("--until-settled", "one tf_version", "2.16")
    ),
    "max-seeds without until-settled": Case(
        (*RUN, *TF, "--max-seeds", "10"), ("--max-seeds", "--until-settled")
    ),
    "until-settled as a dry run": Case(
        (*RUN, "--tf", "2.15,2.16", "--until-settled", *DRY), ("--until-settled", "--dry-run")
    ),
    "until-settled rounds of one seed": Case(
        (*RUN, "--tf", "2.15,2.16", "--until-settled", "--round", "1"), ("--round 1", "2 seeds")
    ),
    "check given a script without until-settled": Case(
        ("check", "--baseline", "b.json", "--tf", "2.16"),
        ("check", "runs nothing", "--tf", "--until-settled"),
    ),
    "check until-settled with seeds": Case(
        ("check", "--baseline", "b.json", "--until-settled", "--seeds", "0..3"),
        ("--until-settled", "drop --seeds"),
    ),
    "check round without until-settled": Case(
        ("check", "--baseline", "b.json", "--round", "4"), ("--round", "--until-settled")
    ),
    "model binds no build_model at its top level": Case(
        (*RUN, *TF, "--model", "net.py", *DRY),
        ("net.py", "build_model at its top level", "build_model = ..."),
        {"net.py": "def outer():\n    build_model = print\n"},
    ),
}


def write_files(root: Path, files: dict[str, str | bytes | Callable[[Path], None]]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def assert_one_line_error(code: int, out: str, err: str, case: Case) -> str:
    assert "Traceback" not in out + err, err
    assert code == case.code, f"exit {code}, stderr: {err!r}"
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one stderr line, got {len(lines)}: {err!r}"
    line = lines[0]
    assert line.startswith("tfrepro: error: "), line
    for needle in case.needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    assert out == "", f"unexpected stdout: {out!r}"
    return line


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 25


@pytest.mark.parametrize("name", list(CASES))
def test_in_process(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES[name]
    write_files(tmp_path, case.files)
    monkeypatch.chdir(tmp_path)
    code = cli.main(list(case.argv))
    captured = capsys.readouterr()
    assert_one_line_error(code, captured.out, captured.err, case)
    assert not (tmp_path / ".tfrepro").exists(), "an error run created a result store"


def test_no_suitable_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(interpreters, "discover", dict)
    monkeypatch.chdir(tmp_path)
    code = cli.main(["run", "--tf", "2.16", "--dry-run"])
    captured = capsys.readouterr()
    line = assert_one_line_error(
        code,
        captured.out,
        captured.err,
        Case((), ("TensorFlow 2.16.2 needs Python", "--python"), code=1),
    )
    assert "3.9 or 3.10 or 3.11 or 3.12" in line


def test_no_command_prints_usage_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    captured = capsys.readouterr()
    assert "usage: tfrepro" in captured.out
    assert "Traceback" not in captured.out + captured.err


# --- the same errors through a real `python -m tfrepro` process ----------------------------

SUBPROCESS_CASES = [
    "unknown release",
    "bad TOML syntax",
    "missing spec file",
    "seeds are not numbers",
    "model syntax error",
    "impossible synthetic data",
    "unknown subcommand",
]


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_as_a_real_process(name: str, tmp_path: Path, _isolated: Path) -> None:
    case = CASES[name]
    write_files(tmp_path, case.files)
    env = {**os.environ, "TFREPRO_CACHE": str(_isolated), "PYTHONWARNINGS": "error"}
    done = subprocess.run(
        [sys.executable, "-m", "tfrepro", *case.argv],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert_one_line_error(done.returncode, done.stdout, done.stderr, case)
    assert not (_isolated / "envs").exists(), "the failed run touched the environment cache"
    assert not (tmp_path / ".tfrepro").exists(), "the failed run created a result store"


# --- user strings and read commands (issue 10) ---------------------------------------------


def test_rich_markup_in_an_env_value_is_shown_as_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "mk.toml").write_text(spec('[matrix.env]\nMYV = ["[/]", "[bold red]x"]\n'))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "mk.toml", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "MYV=[/]" in out and "MYV=[bold red]x" in out


def test_gpu_cells_on_a_machine_without_a_gpu_are_warned_about_in_a_dry_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tfrepro.tasks import planning

    monkeypatch.setattr(planning, "gpu_visible", lambda: False)
    (tmp_path / "gpu.toml").write_text(spec('[matrix.knobs]\ndevice = ["gpu"]\n'))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "gpu.toml", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "warning: device=gpu but this machine has no visible NVIDIA GPU" in out


@pytest.mark.parametrize("command", ["cells", "compare", "report"])
def test_a_read_command_never_repairs_a_zero_byte_store(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "st").mkdir()
    (tmp_path / "st" / "tfrepro.sqlite").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    code = cli.main([command, "--store", "st"])
    captured = capsys.readouterr()
    line = assert_one_line_error(code, captured.out, captured.err, Case((), ("empty",), code=1))
    assert "nothing was changed" in line
    assert (tmp_path / "st" / "tfrepro.sqlite").stat().st_size == 0
    assert sorted(p.name for p in (tmp_path / "st").iterdir()) == ["tfrepro.sqlite"]


def test_a_read_command_leaves_a_damaged_store_byte_for_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged_store(tmp_path / "st" / ".keep")
    before = (tmp_path / "st" / "tfrepro.sqlite").read_bytes()
    monkeypatch.chdir(tmp_path)
    assert cli.main(["cells", "--store", "st"]) == 1
    assert "damaged" in capsys.readouterr().err
    assert (tmp_path / "st" / "tfrepro.sqlite").read_bytes() == before


def test_a_report_into_a_path_that_cannot_be_written_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    import report_store

    store = report_store.build(tmp_path)
    (tmp_path / "afile").write_text("")
    monkeypatch.chdir(tmp_path)
    code = cli.main(["report", "--store", str(store), "--out", "afile/report.html"])
    captured = capsys.readouterr()
    assert_one_line_error(code, "", captured.err, Case((), ("afile/report.html",), code=1))


def test_the_battery_has_a_hundred_cases() -> None:
    assert len(CASES) >= 100  # and the tests of this section, and test_cli_script.py's


# --- control characters in user strings (issue 11) -----------------------------------------

# an OSC 8 hyperlink (ended by BEL) and a colour: a terminal would obey both
TERMINAL_HOSTILE = "x\x1b]8;;http://evil\x07y\x1b[31m"


def assert_no_control_characters(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text, repr(text)
    assert not any((ord(ch) < 32 and ch not in "\n\t") or 0x7F <= ord(ch) <= 0x9F for ch in text)


def test_visible_shows_control_characters_and_keeps_text() -> None:
    from tfrepro.report.style import markup_safe, visible

    assert visible(TERMINAL_HOSTILE) == "x\\x1b]8;;http://evil\\x07y\\x1b[31m"
    assert visible("a\tb\nc\r\x00\x7f\x85\x9fé✓") == "a\tb\nc\\x0d\\x00\\x7f\\x85\\x9fé✓"
    assert visible(3) == "3"
    assert markup_safe("[bold]\x1b") == "\\[bold]\\x1b"


@pytest.fixture
def hostile_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """report_store's store with a terminal escape sequence wherever a user can put text: the
    experiment name, an env var value, a failure reason and traceback."""
    sys.path.insert(0, str(Path(__file__).parent))
    import report_store

    monkeypatch.setattr(report_store, "HOSTILE", TERMINAL_HOSTILE)
    return report_store.build(tmp_path)


@pytest.mark.parametrize(
    "argv",
    [
        ("cells",),
        ("cells", "--all"),
        ("report", "--out", "r.html", "--markdown", "pr.md"),
    ],
)
def test_read_commands_never_print_a_control_character_from_the_store(
    argv: tuple[str, ...],
    hostile_store: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    cli.main([argv[0], "--store", str(hostile_store), *argv[1:]])
    captured = capsys.readouterr()
    assert_no_control_characters(captured.out + captured.err)
    if argv[0] == "report":
        assert "x\\x1b]8;;http://evil\\x07y\\x1b[31m" in captured.out  # the title, as text
        markdown = (tmp_path / "pr.md").read_text(encoding="utf-8")
        assert_no_control_characters(markdown)
        assert "evil\\\\x07y" in markdown  # the backslash is escaped for Markdown


def test_compare_and_check_never_print_a_control_character(
    hostile_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from types import SimpleNamespace

    from rich.console import Console

    from tfrepro.report.compare_view import check_report, compare_table, pair_notes, verdict_notes

    assert cli.main(["compare", "--json", "--store", str(hostile_store)]) == 0
    rows = json.loads(capsys.readouterr().out)
    for r in rows:  # groups named by a hostile env value, as `--by` an env var would name them
        r.update(a=f"X={TERMINAL_HOSTILE}", metric=TERMINAL_HOSTILE, reason=TERMINAL_HOSTILE)
    console = Console()
    compare_table(console, rows, title=f"by {TERMINAL_HOSTILE}")
    pair_notes(console, rows)
    verdict_notes(console, rows)
    failure = {"group": TERMINAL_HOSTILE, "seed": 0, "status": "failed", "reason": TERMINAL_HOSTILE}
    check_report(
        console,
        SimpleNamespace(rows=rows, failures=[failure], outcome="different"),
        f"b{TERMINAL_HOSTILE}.json",
    )
    out = capsys.readouterr().out
    assert "X=x\\x1b]8;;http://evil\\x07y" in out
    assert_no_control_characters(out)


def test_the_run_summary_and_progress_never_print_a_control_character(
    hostile_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from types import SimpleNamespace

    from rich.console import Console

    from tfrepro.report.progress import RichReporter
    from tfrepro.report.terminal import run_summary
    from tfrepro.tasks import results

    console = Console()
    cells = results.cells(hostile_store, all_attempts=False, with_loss=False)
    run_summary(console, cells)
    cell = SimpleNamespace(describe=lambda: f"tf 2.16 X={TERMINAL_HOSTILE}")
    env = SimpleNamespace(tf_version="2.16", python_version="3.11")
    outcome = SimpleNamespace(status="failed", reason=TERMINAL_HOSTILE, wall_seconds=1.0)
    with RichReporter(console) as reporter:
        reporter.planned(1, 1, 1)
        reporter.env_started(env, cached=True)  # type: ignore[arg-type]
        reporter.env_done(env, f"uv failed: {TERMINAL_HOSTILE}")  # type: ignore[arg-type]
        reporter.cell_done(cell, outcome)  # type: ignore[arg-type]
        reporter.cell_elsewhere(cell)  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert "ValueError: bad layer x\\x1b]8;;http://evil\\x07y" in out
    assert_no_control_characters(out)


def test_explain_never_prints_a_control_character(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from types import SimpleNamespace

    from rich.console import Console

    from tfrepro.report.explain_view import render

    sys.path.insert(0, str(Path(__file__).parent))
    import report_store

    monkeypatch.setattr(report_store, "HOSTILE", TERMINAL_HOSTILE)
    found = report_store.explanation()
    found["cells"]["B"]["optimizer"] = TERMINAL_HOSTILE
    found["first_divergence"]["layer"] = TERMINAL_HOSTILE
    found["first_divergence"]["training_mode"] = {
        "stage": "gradient",  # a stage with items, other than the first diverging one
        "layer": TERMINAL_HOSTILE,
        "max_abs": 3.0,
        "forward_max_abs": 1e-8,
    }
    found["stages"]["forward"]["items"][0]["name"] = TERMINAL_HOSTILE
    found["stages"]["forward"]["where"] = TERMINAL_HOSTILE
    found["kind"] = "explain"
    found["cells_compared"] = None
    render(Console(), SimpleNamespace(**found, probed={"fit": 1, "why": TERMINAL_HOSTILE}))  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert "layer renamed x\\x1b]8;;http://evil\\x07y" in out
    assert "In training mode the outputs differ far more" in out
    assert_no_control_characters(out)


def test_an_explained_break_never_prints_a_control_character(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from rich.console import Console

    from tfrepro.report.explain_view import render
    from tfrepro.tasks.breakage import BreakResult

    side = {"tf": "2.16.2", "keras": TERMINAL_HOSTILE, "numpy": "1.26.4", "status": "ok"}
    sig = {"type": "ValueError", "message": TERMINAL_HOSTILE, "package": "keras",
           "user_frame": {"file": TERMINAL_HOSTILE, "line": 3, "function": "<module>",
                          "code": TERMINAL_HOSTILE}, "library_frame": None}  # fmt: skip
    failure = {"describe": TERMINAL_HOSTILE, "signature": sig, "known_break": None}
    variants = [
        {"variant": "legacy_keras", "status": "ok", "compared_with": "A",
         "comparison": {"verdict": "differs on this seed", "weights": "differ",
                        "metrics": {TERMINAL_HOSTILE: {"a": 1.0, "b": 2.0, "diff": 1.0}}}},
        {"variant": "numpy<2", "status": "failed", "failure": failure},
        {"variant": "keras==3.4.1", "status": "cannot run", "reason": TERMINAL_HOSTILE},
    ]  # fmt: skip
    result = BreakResult(
        a=TERMINAL_HOSTILE, b="2.21", seed=0, failing="B", sides={"A": side, "B": side},
        failure=failure, variants=variants, runs_with=["legacy_keras"], seconds=1.0,
    )  # fmt: skip
    render(Console(), result)
    out = capsys.readouterr().out
    assert "runs with: legacy_keras (verified by running)" in out
    assert "x\\x1b]8;;http://evil\\x07y" in out
    assert_no_control_characters(out)


def test_a_dry_run_and_an_error_never_print_a_control_character(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    body = f'name = "{TERMINAL_HOSTILE}"\n[matrix.env]\nMYV = ["{TERMINAL_HOSTILE}"]\n'
    body = body.replace("\x1b", "\\u001b").replace("\x07", "\\u0007")  # as TOML escapes
    (tmp_path / "esc.toml").write_text(spec(body))
    (tmp_path / "t.py").write_text("import sys\n")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "esc.toml", "--dry-run", "--", "python", "t.py", "\x1b[2J"]) == 0
    assert cli.main(["run", "--tf", "2.16", "--dry-run", "--", "python", "\x1b[2J.py"]) != 0
    captured = capsys.readouterr()
    assert "MYV=x\\x1b]8;;http://evil\\x07y\\x1b[31m" in captured.out
    assert captured.err.startswith("tfrepro: error: ")
    assert_no_control_characters(captured.out + captured.err)


# --- a store in a folder that cannot be written (issue 11) -----------------------------------


def test_read_commands_work_on_a_read_only_store_and_change_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    read_only: Callable[[Path], None],
) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    import report_store

    store = report_store.build(tmp_path)
    (store / ".tfrepro-lock").unlink()
    files = sorted(p for p in store.rglob("*") if p.is_file())
    before = {p: p.read_bytes() for p in files}
    (tmp_path / "out").mkdir()
    monkeypatch.chdir(tmp_path / "out")
    read_only(store)
    opened: list[str] = []  # what sqlite was asked to open: as root, a plain open would write
    connect = sqlite3.connect

    def spy(database: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        opened.append(str(database))
        return connect(database, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", spy)
    flag = ("--store", str(store))
    assert cli.main(["cells", *flag]) == 0
    assert cli.main(["compare", *flag]) == 0
    assert cli.main(["report", *flag, "--out", "r.html", "--markdown", "r.md"]) == 0
    assert cli.main(["baseline", "save", "b.json", *flag]) == 0
    assert cli.main(["check", "--baseline", "b.json", *flag]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "check: pass" in captured.out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["b.json", "r.html", "r.md"]
    assert sorted(p for p in store.rglob("*") if p.is_file()) == files  # no lock, -wal, -shm
    assert {p: p.read_bytes() for p in files} == before
    assert len(opened) == 5 and all(o.endswith("?mode=ro&immutable=1") for o in opened), opened


# --- model files and scripts an old release's Python cannot run (issue 11) -------------------

MATCH_MODEL = "def build_model(ctx):\n    match ctx:\n        case _:\n            return None\n"


@pytest.fixture
def old_pythons(monkeypatch: pytest.MonkeyPatch) -> None:
    """Interpreters for TF 1.15 (3.7), 2.4 (3.8) and 2.16 (3.11); their paths are never run."""
    from tfrepro.envs.interpreters import Interpreter

    found = {
        m: Interpreter(f"/opt/python{m}/bin/python{m}", v)
        for m, v in (("3.7", "3.7.17"), ("3.8", "3.8.18"), ("3.11", "3.11.7"))
    }
    monkeypatch.setattr(interpreters, "discover", lambda: dict(found))


@pytest.mark.parametrize(
    ("argv", "files", "needles"),
    [
        (
            ("run", "--tf", "1.15,2.16", "--model", "net.py", *DRY),
            {"net.py": MATCH_MODEL},
            ("net.py' line 2", "Pattern matching", "TensorFlow 1.15.5 (Python 3.7)", "--tf"),
        ),
        (
            ("run", "--tf", "1.15,2.16", "--model", "net.py", *DRY),
            {"net.py": "def build_model(ctx: dict | None = None):\n    return None\n"},
            ("net.py' line 1", "`dict | None` needs Python 3.10", "from __future__ import"),
        ),
        (
            ("run", "--tf", "2.4,2.16", *DRY, "--", "python", "train.py"),
            {"train.py": "with (open('a') as f, open('b') as g):\n    pass\n"},
            ("script", "train.py' line 1", "Parenthesized", "2.4.4 (Python 3.8)"),
        ),
        (
            ("run", "exp.toml", *DRY),
            {
                "exp.toml": '[matrix]\ntf = ["1.15", "2.4"]\n[script]\ncommand = ["t.py"]\n',
                "t.py": "import sys\nif (n := len(sys.argv)):\n    pass\n",
            },
            ("t.py' line 2", "Assignment expressions", "1.15.5 (Python 3.7)"),
        ),
    ],
)
def test_a_source_an_old_release_python_cannot_run_is_refused_at_plan_time(
    argv: tuple[str, ...],
    files: dict[str, str],
    needles: tuple[str, ...],
    old_pythons: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_files(tmp_path, dict(files))
    monkeypatch.chdir(tmp_path)
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    line = assert_one_line_error(code, captured.out, captured.err, Case((), needles))
    assert "2.16.2" not in line  # its Python runs it


def test_a_notebook_line_an_old_python_cannot_run_is_named_by_cell(
    old_pythons: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook()
    nb.cells = [new_code_cell("import sys"), new_code_cell("x = 1\ny = (z := x)")]
    nbformat.write(nb, str(tmp_path / "nb.ipynb"))
    monkeypatch.chdir(tmp_path)
    code = cli.main(["run", "--tf", "1.15", *DRY, "--", "nb.ipynb"])
    captured = capsys.readouterr()
    assert_one_line_error(
        code, captured.out, captured.err, Case((), ("nb.ipynb' code cell 2 line 2", "1.15.5"))
    )


@pytest.mark.parametrize(
    ("tf", "source"),
    [
        ("2.16", MATCH_MODEL),  # every planned Python runs `match`
        ("1.15", "def make(units):\n    return lambda ctx: None\n\nbuild_model = make(64)\n"),
        ("1.15", "from __future__ import annotations\ndef build_model(ctx: int | None): ...\n"),
    ],
)
def test_a_model_file_every_planned_python_runs_is_planned(
    tf: str,
    source: str,
    old_pythons: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "net.py").write_text(source)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "--tf", tf, "--model", "net.py", *DRY]) == 0
    assert "1 cells (dry run: nothing was run)" in capsys.readouterr().out


def test_a_store_that_is_a_file_gets_the_same_line_with_and_without_dry_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "afile").write_text("x")
    monkeypatch.chdir(tmp_path)
    lines = []
    for extra in ((), DRY):
        assert cli.main(["run", *TF, "--store", "afile", *extra]) == 2
        lines.append(capsys.readouterr().err)
    assert lines[0] == lines[1] and lines[0].startswith("tfrepro: error: --store")
    assert (tmp_path / "afile").read_text() == "x"
