"""Every malformed spec or argument ends in ONE line on stderr that names what was wrong.

Each case asserts: the exit code (2 for usage and spec errors), exactly one stderr line
starting with "tfrepro: error:", the wrong key/argument named in it, nothing on stdout and
no traceback anywhere. The autouse fixture in conftest.py makes any environment build
fail the test, so these also prove that errors surface before anything is built.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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
