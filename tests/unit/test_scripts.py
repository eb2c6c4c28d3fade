"""Script mode on the host: the [script] table, notebooks as source, the project hash, the
private working folder of a cell (tfrepro.scripts) and what the cell id depends on."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from tfrepro import plan, scripts
from tfrepro import spec as spec_mod
from tfrepro.errors import SpecError

TRAIN = "import sys\nprint('training', sys.argv[1:])\n"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def script_spec(root: Path, command: list[str] | None = None, **script: Any) -> spec_mod.Spec:
    """A script spec whose paths resolve in `root` (train.py written unless already there)."""
    if not (root / "train.py").exists():
        write(root / "train.py", TRAIN)
    raw = {"script": {"command": command or ["python", "train.py"], **script}}
    return spec_mod.from_dict(raw, origin="exp.toml", base_dir=root)


def spec_error(root: Path, raw: dict[str, Any]) -> str:
    with pytest.raises(SpecError) as exc:
        spec_mod.from_dict(raw, origin="exp.toml", base_dir=root)
    message = str(exc.value)
    assert "\n" not in message
    return message


def notebook(path: Path, *cells: Any) -> Path:
    nb = new_notebook()
    nb.cells = list(cells)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


# --- the [script] table ----------------------------------------------------------------------


def test_script_spec_loads_from_a_file(tmp_path: Path) -> None:
    write(tmp_path / "train.py", TRAIN)
    path = write(
        tmp_path / "exp.toml",
        '[script]\ncommand = ["python", "train.py", "--epochs", "3"]\n[matrix]\ntf = ["2.15"]\n',
    )
    s = spec_mod.load(path)
    assert s.script is not None
    assert s.script.command == ["python", "train.py", "--epochs", "3"]
    assert s.script.seeding == "cell"
    assert s.script.cwd is None
    assert s.script_cwd() == tmp_path.resolve()
    t = scripts.target(s)
    assert t.kind == "file"
    assert t.name == "train.py"
    assert t.argv == ("--epochs", "3")
    assert t.cwd == tmp_path.resolve()
    assert t.path == (tmp_path / "train.py").resolve()


def test_spec_without_script_has_none(tmp_path: Path) -> None:
    s = spec_mod.from_dict({}, base_dir=tmp_path)
    assert s.script is None
    assert s.script_cwd() is None


@pytest.mark.parametrize("head", ["python", "python3", "python3.11", "/usr/bin/python3"])
def test_python_spellings_are_dropped_from_the_target(tmp_path: Path, head: str) -> None:
    t = scripts.target(script_spec(tmp_path, [head, "train.py", "-x"]))
    assert (t.kind, t.name, t.argv) == ("file", "train.py", ("-x",))


def test_bare_script_and_notebook_commands(tmp_path: Path) -> None:
    t = scripts.target(script_spec(tmp_path, ["train.py", "a"]))
    assert (t.kind, t.name, t.argv) == ("file", "train.py", ("a",))
    notebook(tmp_path / "nb.ipynb", new_code_cell("x = 1"))
    t = scripts.target(script_spec(tmp_path, ["nb.ipynb"]))
    assert (t.kind, t.name, t.argv) == ("notebook", "nb.ipynb", ())


def test_seeding_script_is_accepted(tmp_path: Path) -> None:
    assert script_spec(tmp_path, seeding="script").script.seeding == "script"  # type: ignore[union-attr]


def test_bad_seeding_is_a_spec_error(tmp_path: Path) -> None:
    write(tmp_path / "train.py", TRAIN)
    msg = spec_error(tmp_path, {"script": {"command": ["python", "train.py"], "seeding": "both"}})
    assert "script.seeding" in msg
    assert "'both'" in msg


@pytest.mark.parametrize(
    ("command", "needles"),
    [
        ([], ("script.command", "is empty", "train.py")),
        (["python"], ("script.command", "no script", "train.py")),
        (["python", "-c", "x"], ("script.command", "'-c'", "not supported")),
        (["bash", "x.sh"], ("script.command", "'bash'", ".py")),
        (["python", "-m"], ("script.command", "-m", "module name")),
    ],
)
def test_bad_commands_are_spec_errors(
    tmp_path: Path, command: list[str], needles: tuple[str, ...]
) -> None:
    msg = spec_error(tmp_path, {"script": {"command": command}})
    assert msg.startswith("exp.toml: ")
    for needle in needles:
        assert needle in msg, (needle, msg)


def test_command_must_be_a_list_of_strings(tmp_path: Path) -> None:
    write(tmp_path / "train.py", TRAIN)
    msg = spec_error(tmp_path, {"script": {"command": "python train.py"}})
    assert "script.command" in msg


def test_unknown_script_key_is_named(tmp_path: Path) -> None:
    write(tmp_path / "train.py", TRAIN)
    msg = spec_error(tmp_path, {"script": {"command": ["python", "train.py"], "args": []}})
    assert "unknown key 'script.args'" in msg


@pytest.mark.parametrize("section", ["model", "data", "train", "params"])
def test_script_with_a_model_section_is_refused(tmp_path: Path, section: str) -> None:
    write(tmp_path / "train.py", TRAIN)
    msg = spec_error(tmp_path, {"script": {"command": ["python", "train.py"]}, section: {}})
    assert "[script]" in msg
    assert f"[{section}]" in msg
    assert "remove one or the other" in msg


def test_script_with_model_and_train_names_both(tmp_path: Path) -> None:
    write(tmp_path / "train.py", TRAIN)
    raw = {
        "script": {"command": ["python", "train.py"]},
        "model": {"source": "builtin:cnn"},
        "train": {"epochs": 2},
    }
    msg = spec_error(tmp_path, raw)
    assert "[model], [train]" in msg


def test_script_with_a_model_override_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "train.py", TRAIN)
    with pytest.raises(SpecError, match=r"\[model\]"):
        spec_mod.from_dict(
            {"script": {"command": ["python", "train.py"]}},
            base_dir=tmp_path,
            overrides={"model.source": "builtin:cnn"},
        )


def test_missing_script_is_named(tmp_path: Path) -> None:
    msg = spec_error(tmp_path, {"script": {"command": ["python", "missing.py"]}})
    assert "missing.py" in msg
    assert "does not exist" in msg
    assert str(tmp_path.resolve()) in msg


def test_missing_notebook_is_named(tmp_path: Path) -> None:
    msg = spec_error(tmp_path, {"script": {"command": ["gone.ipynb"]}})
    assert "notebook" in msg and "gone.ipynb" in msg


def test_script_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "train.py").mkdir()
    msg = spec_error(tmp_path, {"script": {"command": ["python", "train.py"]}})
    assert "train.py" in msg


def test_script_syntax_error_names_the_line(tmp_path: Path) -> None:
    write(tmp_path / "train.py", "import os\n\ndef f(:\n    pass\n")
    msg = spec_error(tmp_path, {"script": {"command": ["python", "train.py"]}})
    assert "train.py" in msg
    assert "syntax error at line 3" in msg


def test_script_that_is_not_text_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "train.py", b"\x00\x01\x02")
    msg = spec_error(tmp_path, {"script": {"command": ["python", "train.py"]}})
    assert "train.py" in msg


def test_missing_cwd_is_a_spec_error(tmp_path: Path) -> None:
    msg = spec_error(tmp_path, {"script": {"command": ["python", "train.py"], "cwd": "nowhere"}})
    assert "script.cwd" in msg
    assert "nowhere" in msg
    assert "does not exist" in msg


def test_cwd_is_relative_to_the_spec(tmp_path: Path) -> None:
    write(tmp_path / "project" / "train.py", TRAIN)
    s = spec_mod.from_dict(
        {"script": {"command": ["python", "train.py"], "cwd": "project"}}, base_dir=tmp_path
    )
    assert s.script_cwd() == (tmp_path / "project").resolve()
    assert scripts.target(s).path == (tmp_path / "project" / "train.py").resolve()


def test_python_dash_m_is_a_module_target(tmp_path: Path) -> None:
    s = spec_mod.from_dict(
        {"script": {"command": ["python", "-m", "pkg.mod", "--lr", "0.1"]}}, base_dir=tmp_path
    )
    t = scripts.target(s)
    assert t.kind == "module"
    assert t.name == "pkg.mod"
    assert t.argv == ("--lr", "0.1")


def test_bad_module_name_is_a_spec_error(tmp_path: Path) -> None:
    msg = spec_error(tmp_path, {"script": {"command": ["python", "-m", "pkg/mod"]}})
    assert "'pkg/mod'" in msg and "module name" in msg


# --- dump ------------------------------------------------------------------------------------


def test_dump_round_trips_a_script_spec(tmp_path: Path) -> None:
    write(tmp_path / "train.py", TRAIN)
    raw = {
        "name": "mine",
        "script": {"command": ["python", "train.py", "--epochs", "2"], "seeding": "script"},
        "matrix": {"tf": ["2.15"], "seeds": [0, 1]},
    }
    s = spec_mod.from_dict(raw, base_dir=tmp_path)
    data = spec_mod.dump(s)
    for section in ("model", "data", "train", "params", "base_dir"):
        assert section not in data
    assert data["script"]["command"] == ["python", "train.py", "--epochs", "2"]
    again = spec_mod.from_dict(data, base_dir=tmp_path)
    assert again == s
    assert spec_mod.dump(again) == data


def test_dump_of_a_model_spec_has_no_script(tmp_path: Path) -> None:
    s = spec_mod.from_dict({"train": {"epochs": 2}}, base_dir=tmp_path)
    data = spec_mod.dump(s)
    assert "script" not in data
    assert data["train"]["epochs"] == 2
    assert spec_mod.from_dict(data, base_dir=tmp_path) == s


# --- notebooks -------------------------------------------------------------------------------


def test_notebook_code_cells_in_order_markdown_skipped(tmp_path: Path) -> None:
    path = notebook(
        tmp_path / "nb.ipynb",
        new_markdown_cell("# Title\nprint('not code')"),
        new_code_cell("a = 1"),
        new_markdown_cell("text"),
        new_code_cell("b = a + 1\nprint(b)"),
    )
    source, warnings = scripts.notebook_source(path)
    assert warnings == []
    assert "not code" not in source
    assert source.index("a = 1") < source.index("b = a + 1")
    assert "# --- notebook cell 1" in source and "# --- notebook cell 2" in source
    assert "notebook cell 3" not in source
    ns: dict[str, Any] = {}
    exec(compile(source, "nb", "exec"), ns)
    assert ns["b"] == 2


def test_notebook_magics_and_shell_lines_are_dropped(tmp_path: Path) -> None:
    path = notebook(
        tmp_path / "nb.ipynb",
        new_code_cell("%matplotlib inline\nimport math"),
        new_code_cell("!pip install x\nx = math.pi"),
    )
    source, warnings = scripts.notebook_source(path)
    assert "%matplotlib" not in source
    assert "pip install" not in source
    assert "import math" in source and "x = math.pi" in source
    assert len(warnings) == 2
    assert "cell 1" in warnings[0] and "%matplotlib inline" in warnings[0]
    assert "cell 2" in warnings[1] and "!pip install x" in warnings[1]
    ast.parse(source)


def test_notebook_get_ipython_line_is_dropped(tmp_path: Path) -> None:
    path = notebook(
        tmp_path / "nb.ipynb", new_code_cell("get_ipython().run_line_magic('x', '')\nz = 5")
    )
    source, warnings = scripts.notebook_source(path)
    assert len(warnings) == 1 and "cell 1" in warnings[0]
    assert "get_ipython" not in source
    assert "z = 5" in source


def test_indented_magic_becomes_pass(tmp_path: Path) -> None:
    path = notebook(
        tmp_path / "nb.ipynb",
        new_code_cell("if True:\n    %timeit 1 + 1\ny = 3"),
    )
    source, warnings = scripts.notebook_source(path)
    assert len(warnings) == 1 and "cell 1" in warnings[0]
    assert "    pass" in source
    ns: dict[str, Any] = {}
    exec(compile(source, "nb", "exec"), ns)
    assert ns["y"] == 3


def test_cell_magic_skips_the_whole_cell(tmp_path: Path) -> None:
    path = notebook(
        tmp_path / "nb.ipynb",
        new_code_cell("a = 1"),
        new_code_cell("%%time\nsecret = 42\n"),
        new_code_cell("b = 2"),
    )
    source, warnings = scripts.notebook_source(path)
    assert "secret" not in source
    assert "a = 1" in source and "b = 2" in source
    assert warnings == ["notebook cell 2: cell magic '%%time' skipped"]
    # the numbering counts the skipped cell
    assert "# --- notebook cell 3" in source


def test_file_that_is_not_json_is_a_spec_error(tmp_path: Path) -> None:
    path = write(tmp_path / "nb.ipynb", "this is not json")
    with pytest.raises(SpecError) as exc:
        scripts.notebook_source(path)
    msg = str(exc.value)
    assert "nb.ipynb" in msg and "Jupyter notebook" in msg
    assert "\n" not in msg


@pytest.mark.parametrize(
    "text",
    [
        '{"hello": 1}',
        '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code"}]}',
    ],
)
def test_json_that_is_not_a_notebook_is_a_spec_error(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "nb.ipynb", text)
    with pytest.raises(SpecError, match=r"nb\.ipynb"):
        scripts.notebook_source(path)


@pytest.mark.parametrize("text", ["[]", "1", '""', '{"nbformat": 9, "cells": []}'])
def test_other_json_is_a_spec_error(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "nb.ipynb", text)
    with pytest.raises(SpecError, match="cannot be read as a Jupyter notebook"):
        scripts.notebook_source(path)


def test_notebook_without_code_cells_is_a_spec_error(tmp_path: Path) -> None:
    path = notebook(tmp_path / "nb.ipynb", new_markdown_cell("only text"))
    with pytest.raises(SpecError, match="no code cells"):
        scripts.notebook_source(path)


def test_notebook_with_only_cell_magics_is_a_spec_error(tmp_path: Path) -> None:
    path = notebook(tmp_path / "nb.ipynb", new_code_cell("%%bash\necho hi"))
    with pytest.raises(SpecError, match="no code cells"):
        scripts.notebook_source(path)


def test_notebook_syntax_error_names_the_cell(tmp_path: Path) -> None:
    path = notebook(
        tmp_path / "nb.ipynb",
        new_markdown_cell("intro"),
        new_code_cell("ok = 1"),
        new_code_cell("x = 1\ndef f(:\n    pass"),
    )
    with pytest.raises(SpecError) as exc:
        scripts.notebook_source(path)
    msg = str(exc.value)
    assert "code cell 2" in msg
    assert "line 2" in msg


def test_notebook_spec_is_checked_when_loaded(tmp_path: Path) -> None:
    write(tmp_path / "nb.ipynb", "not json at all")
    msg = spec_error(tmp_path, {"script": {"command": ["nb.ipynb"]}})
    assert "nb.ipynb" in msg


# --- project_sha256 --------------------------------------------------------------------------


def project(root: Path) -> Path:
    write(root / "train.py", TRAIN)
    write(root / "helpers" / "util.py", "def f():\n    return 1\n")
    write(root / "data.npz", b"\x00" * 64)
    return root


def sha(root: Path, command: list[str] | None = None) -> str:
    s = spec_mod.from_dict(
        {"script": {"command": command or ["python", "train.py"]}}, base_dir=root
    )
    return scripts.project_sha256(scripts.target(s))


def test_same_folder_same_hash(tmp_path: Path) -> None:
    project(tmp_path / "a")
    project(tmp_path / "b")
    assert sha(tmp_path / "a") == sha(tmp_path / "a")
    # only the contents matter, not where the folder is
    assert sha(tmp_path / "a") == sha(tmp_path / "b")


def test_changing_the_script_changes_the_hash(tmp_path: Path) -> None:
    root = project(tmp_path)
    before = sha(root)
    write(root / "train.py", TRAIN + "# changed\n")
    assert sha(root) != before


def test_changing_a_helper_changes_the_hash(tmp_path: Path) -> None:
    root = project(tmp_path)
    before = sha(root)
    write(root / "helpers" / "util.py", "def f():\n    return 2\n")
    assert sha(root) != before


def test_adding_a_helper_changes_the_hash(tmp_path: Path) -> None:
    root = project(tmp_path)
    before = sha(root)
    write(root / "more.py", "X = 1\n")
    assert sha(root) != before


def test_changing_argv_changes_the_hash(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert sha(root, ["python", "train.py", "--epochs", "3"]) != sha(
        root, ["python", "train.py", "--epochs", "4"]
    )
    assert sha(root, ["python", "train.py"]) != sha(root, ["python", "train.py", "--x"])


def test_data_files_do_not_change_the_hash(tmp_path: Path) -> None:
    root = project(tmp_path)
    before = sha(root)
    write(root / "data.npz", b"\x01" * 128)
    write(root / "notes.txt", "hello")
    assert sha(root) == before


def test_git_and_cache_folders_are_ignored(tmp_path: Path) -> None:
    root = project(tmp_path)
    before = sha(root)
    write(root / ".git" / "hooks" / "pre-commit.py", "print('x')\n")
    write(root / "__pycache__" / "x.py", "y = 1\n")
    write(root / ".venv" / "lib" / "site.py", "z = 1\n")
    assert sha(root) == before


def test_store_folders_are_ignored(tmp_path: Path) -> None:
    root = project(tmp_path)
    before = sha(root)
    write(root / "results" / "tfrepro.sqlite", b"sqlite")
    write(root / "results" / "artifacts" / "cell" / "cwd" / "train.py", "changed = 1\n")
    assert sha(root) == before
    # the same folder without the store marker is a source folder
    (root / "results" / "tfrepro.sqlite").unlink()
    assert sha(root) != before


def test_module_target_hash(tmp_path: Path) -> None:
    write(tmp_path / "pkg" / "__init__.py", "")
    write(tmp_path / "pkg" / "mod.py", "print(1)\n")
    before = sha(tmp_path, ["python", "-m", "pkg.mod"])
    assert before == sha(tmp_path, ["python", "-m", "pkg.mod"])
    assert before != sha(tmp_path, ["python", "-m", "pkg.other"])
    write(tmp_path / "pkg" / "mod.py", "print(2)\n")
    assert sha(tmp_path, ["python", "-m", "pkg.mod"]) != before


def test_notebook_target_hash_follows_the_notebook(tmp_path: Path) -> None:
    notebook(tmp_path / "nb.ipynb", new_code_cell("a = 1"))
    before = sha(tmp_path, ["nb.ipynb"])
    notebook(tmp_path / "nb.ipynb", new_code_cell("a = 2"))
    assert sha(tmp_path, ["nb.ipynb"]) != before


# --- mirror ----------------------------------------------------------------------------------


def test_mirror_copies_small_files(tmp_path: Path) -> None:
    src = project(tmp_path / "src")
    dst = scripts.mirror(src, tmp_path / "dst")
    assert dst == tmp_path / "dst"
    copy = dst / "train.py"
    assert copy.is_file() and not copy.is_symlink()
    assert copy.read_text() == TRAIN
    copy.write_text("edited\n")
    assert (src / "train.py").read_text() == TRAIN


def test_mirror_recreates_nested_folders(tmp_path: Path) -> None:
    src = project(tmp_path / "src")
    write(src / "a" / "b" / "c" / "deep.cfg", "k = 1\n")
    (src / "empty").mkdir()
    dst = scripts.mirror(src, tmp_path / "dst")
    assert (dst / "helpers" / "util.py").read_text() == (src / "helpers" / "util.py").read_text()
    assert (dst / "a" / "b" / "c" / "deep.cfg").read_text() == "k = 1\n"
    assert (dst / "a" / "b").is_dir() and not (dst / "a").is_symlink()
    assert (dst / "empty").is_dir()


def test_mirror_links_large_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scripts, "COPY_LIMIT", 100)
    src = tmp_path / "src"
    write(src / "small.txt", "x" * 100)
    write(src / "big.npz", b"\x00" * 101)
    dst = scripts.mirror(src, tmp_path / "dst")
    assert not (dst / "small.txt").is_symlink()
    big = dst / "big.npz"
    assert big.is_symlink()
    assert big.resolve() == (src / "big.npz").resolve()
    assert big.read_bytes() == b"\x00" * 101


def test_mirror_skips_vcs_caches_and_stores(tmp_path: Path) -> None:
    src = project(tmp_path / "src")
    write(src / ".git" / "HEAD", "ref: refs/heads/main\n")
    write(src / "__pycache__" / "train.cpython-311.pyc", b"\x00")
    write(src / "helpers" / "__pycache__" / "util.cpython-311.pyc", b"\x00")
    write(src / ".tfrepro" / "tfrepro.sqlite", b"sqlite")
    write(src / ".tfrepro" / "artifacts" / "x.npz", b"\x00")
    write(src / "runs" / "tfrepro.sqlite", b"sqlite")
    dst = scripts.mirror(src, tmp_path / "dst")
    assert not (dst / ".git").exists()
    assert not (dst / "__pycache__").exists()
    assert not (dst / "helpers" / "__pycache__").exists()
    assert not (dst / ".tfrepro").exists()
    assert not (dst / "runs").exists()
    assert (dst / "train.py").exists()


def test_files_written_in_the_mirror_stay_there(tmp_path: Path) -> None:
    src = project(tmp_path / "src")
    before = sorted(p.relative_to(src) for p in src.rglob("*"))
    dst = scripts.mirror(src, tmp_path / "dst")
    write(dst / "checkpoints" / "model.keras", b"weights")
    write(dst / "log.txt", "epoch 1\n")
    assert sorted(p.relative_to(src) for p in src.rglob("*")) == before


def test_two_mirrors_of_one_folder_are_independent(tmp_path: Path) -> None:
    src = project(tmp_path / "src")
    a = scripts.mirror(src, tmp_path / "cell-a")
    b = scripts.mirror(src, tmp_path / "cell-b")
    (a / "train.py").write_text("a\n")
    assert (b / "train.py").read_text() == TRAIN


def test_mirror_beyond_max_entries_links_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scripts, "MAX_ENTRIES", 2)
    src = tmp_path / "src"
    for i in range(3):
        write(src / f"f{i}.txt", str(i))
    write(src / "sub" / "inner.txt", "inner")
    dst = scripts.mirror(src, tmp_path / "dst")
    assert not (dst / "f0.txt").is_symlink() and not (dst / "f1.txt").is_symlink()
    assert (dst / "f2.txt").is_symlink()
    assert (dst / "sub").is_symlink()
    assert (dst / "sub" / "inner.txt").read_text() == "inner"


# --- the cell id -----------------------------------------------------------------------------


def test_seeding_changes_the_experiment_hash(tmp_path: Path) -> None:
    write(tmp_path / "train.py", TRAIN)
    cell = script_spec(tmp_path)
    own = script_spec(tmp_path, seeding="script")
    assert plan.experiment_hash(cell, "", "abc") != plan.experiment_hash(own, "", "abc")
    assert plan.experiment_hash(cell, "", "abc") == plan.experiment_hash(
        script_spec(tmp_path, seeding="cell"), "", "abc"
    )


def test_project_hash_changes_the_experiment_hash(tmp_path: Path) -> None:
    s = script_spec(tmp_path)
    assert plan.experiment_hash(s, "", "abc") != plan.experiment_hash(s, "", "abd")
    # the data hash is not part of a script's experiment
    assert plan.experiment_hash(s, "", "abc") == plan.experiment_hash(s, "other", "abc")


def test_script_and_model_experiments_differ(tmp_path: Path) -> None:
    s = script_spec(tmp_path)
    m = spec_mod.from_dict({}, base_dir=tmp_path)
    assert plan.experiment_hash(s, "", None) != plan.experiment_hash(m, "", None)


def test_a_line_of_the_notebook_source_is_named_by_cell(tmp_path: Path) -> None:
    path = notebook(
        tmp_path / "nb.ipynb", new_code_cell("a = 1"), new_code_cell("b = 2\nc = (d := 3)")
    )
    source, _ = scripts.notebook_source(path)
    where = scripts.notebook_where(source)
    line = source.splitlines().index("c = (d := 3)") + 1
    assert where(line) == "code cell 2 line 2"
    assert where(source.splitlines().index("a = 1") + 1) == "code cell 1 line 1"
