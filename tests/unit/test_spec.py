"""tfrepro.spec: TOML → validated Spec, and one clear SpecError line for everything else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tfrepro import spec as spec_mod
from tfrepro.errors import SpecError, UsageError

MODEL = "def build_model(ctx):\n    return None\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_empty_spec_gives_the_documented_defaults() -> None:
    s = spec_mod.from_dict({})
    assert s.model.source == "builtin:mlp"
    assert s.data.name == "digits"
    assert s.train.epochs == 3 and s.train.batch_size == 64
    assert s.matrix.seeds == [0]
    assert s.matrix.tf == []
    assert s.matrix.resolution == "era"
    assert s.matrix.knobs.determinism == [True]
    assert s.model_path() is None and s.data_path() is None


def test_load_reads_every_section(tmp_path: Path) -> None:
    write(tmp_path / "models" / "net.py", MODEL)
    path = write(
        tmp_path / "exp.toml",
        """
name = "mine"
timeout = 60
[model]
source = "models/net.py"
hidden = 8
[data]
name = "wine"
test_fraction = 0.3
[train]
epochs = 2
optimizer = "sgd"
learning_rate = 0.01
[params]
dropout = 0.5
[matrix]
tf = ["2.15", "2.16"]
seeds = [3, 1]
resolution = "latest"
env = { OMP_NUM_THREADS = ["1", "2"] }
requirements = ["pandas==2.0.3"]
[matrix.knobs]
threads = [1, 4]
onednn = ["on", "off"]
""",
    )
    s = spec_mod.load(path)
    assert s.name == "mine" and s.timeout == 60
    assert s.model.hidden == 8
    assert s.data.name == "wine" and s.data.test_fraction == 0.3
    assert s.train.optimizer == "sgd"
    assert s.params == {"dropout": 0.5}
    assert s.matrix.tf == ["2.15", "2.16"]
    assert s.matrix.seeds == [3, 1]
    assert s.matrix.env == {"OMP_NUM_THREADS": ["1", "2"]}
    assert s.matrix.knobs.threads == [1, 4]
    assert s.matrix.knobs.onednn == ["on", "off"]


def test_relative_paths_resolve_against_the_spec_file_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "proj" / "net.py", MODEL)
    write(tmp_path / "proj" / "data.npz", "placeholder")
    path = write(
        tmp_path / "proj" / "exp.toml", '[model]\nsource = "net.py"\n[data]\nname = "data.npz"\n'
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    s = spec_mod.load(Path("..") / "proj" / "exp.toml")
    assert s.model_path() == (tmp_path / "proj" / "net.py").resolve()
    assert s.data_path() == (tmp_path / "proj" / "data.npz").resolve()
    assert path.exists()


def test_overrides_replace_spec_values_and_create_missing_tables(tmp_path: Path) -> None:
    path = write(tmp_path / "exp.toml", '[matrix]\ntf = ["2.12"]\nseeds = [0]\n')
    s = spec_mod.load(path, {"matrix.tf": ["2.16"], "matrix.seeds": [5, 6], "train.epochs": 9})
    assert s.matrix.tf == ["2.16"]
    assert s.matrix.seeds == [5, 6]
    assert s.train.epochs == 9


def test_overrides_are_validated_too() -> None:
    with pytest.raises(SpecError, match=r"matrix\.seeds"):
        spec_mod.from_dict({}, overrides={"matrix.seeds": [1, 1]})


def test_spec_is_frozen() -> None:
    s = spec_mod.from_dict({})
    with pytest.raises(ValidationError):
        s.name = "other"  # type: ignore[misc]


def test_spec_error_is_a_usage_error_with_exit_code_2() -> None:
    with pytest.raises(UsageError) as info:
        spec_mod.from_dict({"bogus": 1})
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("raw", "key", "hint"),
    [
        ({"bogus": 1}, "bogus", "unknown key"),
        ({"matrix": {"knobs": {"foo": [1]}}}, "matrix.knobs.foo", "unknown key"),
        ({"train": {"epochs": "three"}}, "train.epochs", "integer"),
        ({"train": {"epochs": 0}}, "train.epochs", "greater than 0"),
        ({"train": {"batch_size": 0}}, "train.batch_size", "greater than 0"),
        ({"train": {"optimizer": "lion"}}, "train.optimizer", "adam"),
        ({"matrix": {"seeds": "0"}}, "matrix.seeds", "list"),
        ({"matrix": {"seeds": [-1]}}, "matrix.seeds.0", "greater than or equal to 0"),
        ({"matrix": {"seeds": [2**31]}}, "matrix.seeds.0", "less than"),
        ({"matrix": {"seeds": [1, 2, 1]}}, "matrix.seeds", "repeated"),
        ({"matrix": {"seeds": []}}, "matrix.seeds", "at least one"),
        ({"matrix": {"seeds": [True]}}, "matrix.seeds.0", "integer"),
        ({"matrix": {"tf": "2.16"}}, "matrix.tf", "list"),
        ({"matrix": {"resolution": "newest"}}, "matrix.resolution", "'era' or 'latest'"),
        ({"matrix": {"python": "3"}}, "matrix.python", "3.11"),
        ({"matrix": {"env": {"1BAD": ["x"]}}}, "matrix.env", "1BAD"),
        ({"matrix": {"env": {"GOOD": []}}}, "matrix.env", "at least one value"),
        ({"matrix": {"requirements": ["pandas ==== 2"]}}, "matrix.requirements", "pip requirement"),
        ({"matrix": {"keras": ["three"]}}, "matrix.keras", "Keras version"),
        ({"matrix": {"knobs": {"threads": []}}}, "matrix.knobs.threads", "at least one value"),
        ({"matrix": {"knobs": {"threads": [1, 1]}}}, "matrix.knobs.threads", "repeated"),
        ({"matrix": {"knobs": {"onednn": ["maybe"]}}}, "matrix.knobs.onednn.0", "'default', 'on'"),
        ({"model": {"source": "builtin:resnet"}}, "model.source", "builtin:mlp"),
        ({"model": {"source": "net.txt"}}, "model.source", ".py"),
        ({"model": {"hidden": 0}}, "model.hidden", "greater than 0"),
        ({"data": {"name": "mnist"}}, "data.name", ".npz"),
        ({"data": {"test_fraction": 1.5}}, "data.test_fraction", "less than 1"),
        ({"data": {"test_fraction": 0}}, "data.test_fraction", "greater than 0"),
        ({"data": {"shuffle": "sometimes"}}, "data.shuffle", "'host'"),
        ({"timeout": -5}, "timeout", "greater than 0"),
        ({"params": 3}, "params", "dictionary"),
        ({"matrix": "x"}, "matrix", "dictionary"),
    ],
)
def test_invalid_values_name_the_key(raw: dict[str, Any], key: str, hint: str) -> None:
    with pytest.raises(SpecError) as info:
        spec_mod.from_dict(raw, origin="exp.toml")
    msg = str(info.value)
    assert msg.startswith("exp.toml: ")
    assert key in msg
    assert hint in msg
    assert "\n" not in msg


def test_base_dir_cannot_be_set_from_the_spec() -> None:
    with pytest.raises(SpecError, match="base_dir"):
        spec_mod.from_dict({"base_dir": "/"})


def test_missing_spec_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="does not exist"):
        spec_mod.load(tmp_path / "nope.toml")


def test_spec_path_that_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot be read"):
        spec_mod.load(tmp_path)


def test_bad_toml_syntax(tmp_path: Path) -> None:
    path = write(tmp_path / "exp.toml", "[matrix\ntf = 1\n")
    with pytest.raises(SpecError, match=r"invalid TOML.*line 1"):
        spec_mod.load(path)


def test_binary_spec_file(tmp_path: Path) -> None:
    path = tmp_path / "exp.toml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SpecError, match="UTF-8"):
        spec_mod.load(path)


def test_model_file_checks(tmp_path: Path) -> None:
    write(tmp_path / "nofunc.py", "def build(ctx):\n    pass\n\nclass build_model: pass\n")
    write(tmp_path / "broken.py", "def build_model(ctx:\n")
    (tmp_path / "folder.py").mkdir()
    write(tmp_path / "nested.py", "def outer():\n    def build_model(ctx):\n        pass\n")
    cases = {
        "missing.py": "does not exist",
        "nofunc.py": "does not define build_model",
        "nested.py": "does not define build_model",
        "broken.py": "syntax error at line 1",
        "folder.py": "cannot read model file",
    }
    for name, expected in cases.items():
        with pytest.raises(SpecError, match=expected) as info:
            spec_mod.from_dict({"model": {"source": name}}, base_dir=tmp_path)
        assert name in str(info.value)


def test_model_file_with_build_model_passes(tmp_path: Path) -> None:
    write(tmp_path / "ok.py", "import os\n\n" + MODEL)
    s = spec_mod.from_dict({"model": {"source": "ok.py"}}, base_dir=tmp_path)
    assert s.model_path() == (tmp_path / "ok.py").resolve()


@pytest.mark.parametrize(
    "source",
    [
        "def make(units):\n    return lambda ctx: None\n\nbuild_model = make(64)\n",
        "from functools import partial\nbuild_model = partial(print, 1)\n",
        "from mymodels import build as build_model\n",
        "from mymodels import build_model\n",
        "from mymodels import *\n",
        "import build_model\n",
        "build_model: object = None\n",
        "async def build_model(ctx):\n    pass\n",
        "try:\n    from fast import build_model\nexcept ImportError:\n    build_model = None\n",
        "if True:\n    def build_model(ctx):\n        pass\n",
        "a, build_model = 1, print\n",
        "(build_model := print)\n",
        "for build_model in [print]:\n    pass\n",
        "with open(__file__) as build_model:\n    pass\n",
    ],
)
def test_any_top_level_binding_of_build_model_passes(tmp_path: Path, source: str) -> None:
    write(tmp_path / "net.py", source)
    spec_mod.from_dict({"model": {"source": "net.py"}}, base_dir=tmp_path)


@pytest.mark.parametrize(
    "source",
    [
        "build_model: object\n",  # annotated only: nothing is bound
        "def outer():\n    build_model = print\n",
        "class Models:\n    build_model = print\n",
        "build = lambda build_model: build_model\n",
        "names = [build_model for build_model in range(3)]\n",
        "import os.build_model\n",  # binds `os`
        "print(build_model)\n",
        "class build_model:\n    pass\n",  # calling it makes an instance, not a model
    ],
)
def test_a_name_not_bound_at_the_top_level_is_refused(tmp_path: Path, source: str) -> None:
    write(tmp_path / "net.py", source)
    with pytest.raises(SpecError, match=r"net\.py.* does not define build_model at its top"):
        spec_mod.from_dict({"model": {"source": "net.py"}}, base_dir=tmp_path)


def test_missing_npz_dataset(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"data\.name: dataset file .* does not exist"):
        spec_mod.from_dict({"data": {"name": "gone.npz"}}, base_dir=tmp_path)


def test_valid_requirements_and_env_names_pass() -> None:
    s = spec_mod.from_dict(
        {
            "matrix": {
                "requirements": ["pandas==2.0.3", "scipy>=1.10,<2", "rich"],
                "env": {"TF_NUM_INTEROP_THREADS": ["1"], "_X": ["a", "b"]},
                "keras": ["3.3.3", "2"],
            }
        }
    )
    assert len(s.matrix.requirements) == 3
    assert set(s.matrix.env) == {"TF_NUM_INTEROP_THREADS", "_X"}


def test_a_spec_saved_with_a_byte_order_mark_reads_as_written(tmp_path: Path) -> None:
    path = tmp_path / "exp.toml"
    path.write_bytes(b'\xef\xbb\xbfname = "bom"\n[matrix]\ntf = ["2.15"]\n')
    loaded = spec_mod.load(path)
    assert loaded.name == "bom" and loaded.matrix.tf == ["2.15"]
