"""Script mode on the command line (`tfrepro run [OPTIONS] -- python train.py ARGS`): bad input
ends in ONE stderr line and exit 2 before anything runs; a dry run plans without running."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tfrepro import cli
from tfrepro.cli import parser

TF = ("--tf", "2.15")
TRAIN = "import sys\nprint('training', sys.argv[1:])\n"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def one_line_error(capsys: pytest.CaptureFixture[str], code: int, *needles: str) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err, captured.err
    assert code == 2, f"exit {code}, stderr: {captured.err!r}"
    lines = captured.err.splitlines()
    assert len(lines) == 1, f"expected one stderr line, got {len(lines)}: {captured.err!r}"
    line = lines[0]
    assert line.startswith("tfrepro: error: "), line
    for needle in needles:
        assert needle in line, f"{needle!r} not in {line!r}"
    assert captured.out == "", f"unexpected stdout: {captured.out!r}"
    return line


def nothing_ran(root: Path) -> None:
    assert not (root / ".tfrepro").exists(), "an error run created a result store"


# --- the grammar -----------------------------------------------------------------------------


def test_split_script() -> None:
    assert parser.split_script(["run", "--tf", "2.15"]) == (["run", "--tf", "2.15"], None)
    assert parser.split_script(["run", "--"]) == (["run"], [])
    assert parser.split_script(["run", "--tf", "2.15", "--", "python", "t.py", "--", "-x"]) == (
        ["run", "--tf", "2.15"],
        ["python", "t.py", "--", "-x"],
    )


def test_check_script_accepts_the_script_commands() -> None:
    for command in parser.SCRIPT_COMMANDS:
        parser.check_script(command, ["python", "train.py"])
        parser.check_script(command, None)
    parser.check_script("cells", None)


# --- bad input -------------------------------------------------------------------------------


def test_nothing_after_the_separator(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["run", *TF, "--"])
    one_line_error(capsys, code, "no script after", "python train.py")
    nothing_ran(tmp_path)


def test_explain_with_nothing_after_the_separator(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["explain", "2.9", "2.15", "--"])
    one_line_error(capsys, code, "no script after")


def test_missing_script_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["run", *TF, "--", "python", "missing.py"])
    one_line_error(capsys, code, "missing.py", "does not exist")
    nothing_ran(tmp_path)


def test_script_syntax_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "train.py").write_text("x = (\n")
    code = cli.main(["run", *TF, "--", "python", "train.py"])
    one_line_error(capsys, code, "train.py", "syntax error at line")


def test_notebook_that_is_not_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notebook.ipynb").write_text("not a notebook")
    code = cli.main(["run", *TF, "--", "notebook.ipynb"])
    one_line_error(capsys, code, "notebook.ipynb", "Jupyter notebook")
    nothing_ran(tmp_path)


def test_json_that_is_not_a_notebook(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notebook.ipynb").write_text('{"hello": 1}')
    code = cli.main(["run", *TF, "--", "notebook.ipynb"])
    one_line_error(capsys, code, "notebook.ipynb")


@pytest.mark.parametrize(
    ("command", "needles"),
    [
        (["python", "-c", "print(1)"], ("'-c'", "not supported")),
        (["bash", "x.sh"], ("'bash'",)),
        (["python"], ("no script",)),
        (["python", "-m", "not/a/module"], ("module name",)),
    ],
)
def test_unsupported_commands(
    command: list[str], needles: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["run", *TF, "--", *command])
    one_line_error(capsys, code, "script.command", *needles)


@pytest.mark.parametrize("command", ["cells", "demo", "versions"])
def test_commands_that_take_no_script(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "train.py").write_text(TRAIN)
    code = cli.main([command, "--", "python", "train.py"])
    one_line_error(capsys, code, f"`tfrepro {command}` takes no script", "run, explain, bisect")
    nothing_ran(tmp_path)


def test_spec_with_script_and_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "train.py").write_text(TRAIN)
    (tmp_path / "exp.toml").write_text(
        '[script]\ncommand = ["python", "train.py"]\n'
        '[model]\nsource = "builtin:cnn"\n'
        '[matrix]\ntf = ["2.15"]\n'
    )
    code = cli.main(["run", "exp.toml", "--dry-run"])
    one_line_error(capsys, code, "exp.toml", "[script]", "[model]")
    nothing_ran(tmp_path)


def test_spec_with_a_model_and_a_command_line_script(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "train.py").write_text(TRAIN)
    (tmp_path / "exp.toml").write_text('[train]\nepochs = 2\n[matrix]\ntf = ["2.15"]\n')
    code = cli.main(["run", "exp.toml", "--dry-run", "--", "python", "train.py"])
    one_line_error(capsys, code, "[script]", "[train]")


@pytest.mark.parametrize(
    ("flags", "section"),
    [
        (("--model", "builtin:cnn"), "[model]"),
        (("--data", "wine"), "[data]"),
        (("--epochs", "3"), "[train]"),
    ],
)
def test_model_options_with_a_script(
    flags: tuple[str, ...], section: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "train.py").write_text(TRAIN)
    code = cli.main(["run", *TF, *flags, "--", "python", "train.py"])
    one_line_error(capsys, code, "[script]", section)
    nothing_ran(tmp_path)


# --- a dry run -------------------------------------------------------------------------------


def test_dry_run_of_a_script_plans_without_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "ran.txt"
    (tmp_path / "train.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    argv = [
        "run",
        "--dry-run",
        *TF,
        "--seeds",
        "0,1",
        "--python",
        sys.executable,
        "--",
        "python",
        "train.py",
        "--epochs",
        "3",
    ]
    assert cli.main(argv) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.strip().splitlines()
    assert lines[-1] == "2 cells (dry run: nothing was run)"
    assert sum("tf 2.15" in ln for ln in lines) == 2
    assert any("seed 0" in ln for ln in lines) and any("seed 1" in ln for ln in lines)
    assert not marker.exists(), "the dry run ran the script"
    nothing_ran(tmp_path)


def test_dry_run_cell_ids_follow_the_script(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "train.py").write_text(TRAIN)
    argv = ["run", "--dry-run", *TF, "--python", sys.executable, "--", "python", "train.py"]

    def first_id() -> str:
        assert cli.main(argv) == 0
        return capsys.readouterr().out.split()[0]

    before = first_id()
    assert first_id() == before
    (tmp_path / "train.py").write_text(TRAIN + "# edited\n")
    assert first_id() != before
    assert cli.main([*argv, "--epochs", "5"]) == 0
    assert capsys.readouterr().out.split()[0] not in (before, "")


def test_dry_run_of_a_notebook(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nbformat = pytest.importorskip("nbformat")
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook()
    nb.cells = [new_code_cell("%matplotlib inline\nx = 1")]
    nbformat.write(nb, str(tmp_path / "nb.ipynb"))
    argv = ["run", "--dry-run", *TF, "--python", sys.executable, "--", "nb.ipynb"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == "1 cells (dry run: nothing was run)"
