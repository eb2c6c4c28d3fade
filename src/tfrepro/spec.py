"""The experiment spec: TOML → validated `Spec`.

Every invalid spec becomes one `SpecError` line that names the key, what was expected and
how to fix it. Paths in the spec are relative to the spec file.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, field_validator

from tfrepro import scripts
from tfrepro.errors import SpecError

BUILTIN_MODELS = ("mlp", "cnn", "rnn")
BUILTIN_DATASETS = ("digits", "breast_cancer", "wine", "iris", "synthetic")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REQUIREMENT = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9._\-\[\],]*\s*(([<>=!~]=?|===)\s*[A-Za-z0-9.*+!\-]+\s*,?\s*)*$"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ModelSpec(_Strict):
    source: str = "builtin:mlp"
    hidden: Annotated[int, Strict(), Field(gt=0)] = 64

    @field_validator("source")
    @classmethod
    def _source(cls, v: str) -> str:
        if v.startswith("builtin:") and v.removeprefix("builtin:") not in BUILTIN_MODELS:
            raise ValueError(
                f"unknown built-in model '{v}'; use one of "
                + ", ".join(f"builtin:{m}" for m in BUILTIN_MODELS)
                + " or a path to a .py file"
            )
        if not v.startswith("builtin:") and not v.endswith(".py"):
            raise ValueError(f"'{v}' is neither builtin:NAME nor a .py file")
        return v


class DataSpec(_Strict):
    name: str = "digits"
    test_fraction: Annotated[float, Strict(), Field(gt=0, lt=1)] = 0.25
    shuffle: Literal["host", "framework", "none"] = "host"
    n_samples: Annotated[int, Strict(), Field(gt=10)] = 1000
    n_features: Annotated[int, Strict(), Field(gt=0)] = 20
    n_classes: Annotated[int, Strict(), Field(gt=1)] = 2
    data_seed: Annotated[int, Strict(), Field(ge=0)] = 0

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if v not in BUILTIN_DATASETS and not v.endswith(".npz"):
            raise ValueError(
                f"unknown dataset '{v}'; use one of {', '.join(BUILTIN_DATASETS)} "
                f"or a path to a .npz file"
            )
        return v


class TrainSpec(_Strict):
    epochs: Annotated[int, Strict(), Field(gt=0, le=10_000)] = 3
    batch_size: Annotated[int, Strict(), Field(gt=0)] = 64
    optimizer: Literal["adam", "sgd", "rmsprop", "adagrad"] = "adam"
    learning_rate: Annotated[float, Strict(), Field(gt=0)] = 1e-3
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


_PYTHON = re.compile(r"^python(3(\.\d+)?)?$")


class ScriptSpec(_Strict):
    """`[script]`: the user's own training script, run unchanged as every cell (scripts.py)."""

    command: list[str]
    cwd: str | None = None  # relative to the spec file; default: the spec's folder
    seeding: Literal["cell", "script"] = "cell"  # whose seed wins when the script seeds itself

    @field_validator("command")
    @classmethod
    def _command(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError(
                "is empty; give the command that trains, e.g. ['python', 'train.py', '--epochs', "
                "'3']"
            )
        head = v[0]
        if _PYTHON.match(Path(head).name):
            if len(v) < 2:
                raise ValueError("names python but no script; add the script, e.g. 'train.py'")
            if v[1] == "-m" and len(v) < 3:
                raise ValueError("has `python -m` without a module name")
            if v[1].startswith("-") and v[1] != "-m":
                raise ValueError(
                    f"python option '{v[1]}' is not supported; give `python SCRIPT.py [ARGS]`, "
                    f"`python -m MODULE [ARGS]` or `NOTEBOOK.ipynb`"
                )
        elif not head.endswith((".py", ".ipynb")):
            raise ValueError(
                f"'{head}' is not python, a .py script or a .ipynb notebook; tfrepro runs "
                f"Python training scripts in each environment's own interpreter"
            )
        return v

    def program(self) -> tuple[str, str, tuple[str, ...]]:
        """(kind, name, argv) of the command: kind "file" | "notebook" | "module"; the python
        typed is dropped (each environment's own runs it)."""
        cmd = list(self.command)
        if _PYTHON.match(Path(cmd[0]).name):
            cmd = cmd[1:]
        if cmd[0] == "-m":
            return "module", cmd[1], tuple(cmd[2:])
        return ("notebook" if cmd[0].endswith(".ipynb") else "file"), cmd[0], tuple(cmd[1:])


class Knobs(_Strict):
    """Each knob is an axis: a list of values, every combination becomes cells."""

    onednn: list[Literal["default", "on", "off"]] = ["default"]
    threads: list[Annotated[int, Strict(), Field(ge=0)]] = [1]  # 0 = TensorFlow's own default
    determinism: list[bool] = [True]
    xla: list[Literal["default", "on", "off"]] = ["default"]
    legacy_keras: list[bool] = [False]
    optimizer_impl: list[Literal["keras", "legacy", "tf1"]] = ["keras"]
    device: list[Literal["cpu", "gpu"]] = ["cpu"]

    @field_validator("*")
    @classmethod
    def _non_empty(cls, v: list[Any]) -> list[Any]:
        if not v:
            raise ValueError("needs at least one value")
        if len(set(v)) != len(v):
            raise ValueError("has repeated values")
        return v


class MatrixSpec(_Strict):
    tf: list[str] = []
    seeds: list[Annotated[int, Strict(), Field(ge=0, lt=2**31)]] = [0]
    python: str | None = None
    resolution: Literal["era", "latest"] = "era"
    keras: list[str] = []
    env: dict[str, list[str]] = {}
    requirements: list[str] = []
    knobs: Knobs = Knobs()

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("needs at least one seed")
        if len(set(v)) != len(v):
            raise ValueError("has repeated seeds")
        return v

    @field_validator("python")
    @classmethod
    def _python(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^3\.\d+$", v):
            raise ValueError(f"'{v}' is not a Python minor version such as 3.11")
        return v

    @field_validator("env")
    @classmethod
    def _env(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, values in v.items():
            if not _ENV_NAME.match(name):
                raise ValueError(f"'{name}' is not a valid environment variable name")
            if not values:
                raise ValueError(f"{name} needs at least one value")
        return v

    @field_validator("requirements")
    @classmethod
    def _reqs(cls, v: list[str]) -> list[str]:
        for req in v:
            if not _REQUIREMENT.match(req.strip()):
                raise ValueError(f"'{req}' is not a pip requirement such as 'pandas==2.0.3'")
        return v

    @field_validator("keras")
    @classmethod
    def _keras(cls, v: list[str]) -> list[str]:
        for ver in v:
            if not re.match(r"^(\d+(\.\d+)*(\.dev\d+)?|nightly(-\d{4}-?\d{2}-?\d{2})?)$", ver):
                raise ValueError(
                    f"'{ver}' is not a Keras version such as 3.3.3, a keras-nightly build "
                    f"such as 3.7.0.dev2024110803, or nightly / nightly-20241108"
                )
        return v


class Spec(_Strict):
    name: str = "experiment"
    model: ModelSpec = ModelSpec()
    data: DataSpec = DataSpec()
    train: TrainSpec = TrainSpec()
    params: dict[str, Any] = {}
    script: ScriptSpec | None = None
    matrix: MatrixSpec = MatrixSpec()
    timeout: Annotated[float, Strict(), Field(gt=0)] = 900.0
    margin: Annotated[float, Strict(), Field(gt=0)] | None = None
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    # Where relative paths resolve; not part of the TOML.
    base_dir: Path = Path()

    def model_path(self) -> Path | None:
        if self.model.source.startswith("builtin:"):
            return None
        return (self.base_dir / self.model.source).resolve()

    def data_path(self) -> Path | None:
        if self.data.name in BUILTIN_DATASETS:
            return None
        return (self.base_dir / self.data.name).resolve()

    def script_cwd(self) -> Path | None:
        """The folder a script cell starts in (a private copy of it: scripts.mirror)."""
        if self.script is None:
            return None
        return (self.base_dir / (self.script.cwd or ".")).resolve()


def dump(spec: Spec) -> dict[str, Any]:
    """The spec as TOML-like data that `from_dict` reads back to the same spec: a script spec
    without the [model]/[data]/[train] sections it replaces."""
    exclude = {"base_dir", *(_MODEL_SECTIONS if spec.script is not None else ("script",))}
    return spec.model_dump(mode="json", exclude=exclude)


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def _explain(exc: ValidationError, origin: str) -> SpecError:
    err = exc.errors()[0]
    key = _where(err["loc"])
    kind = err["type"]
    got = err.get("input")
    if kind == "extra_forbidden":
        parent = _where(err["loc"][:-1])
        return SpecError(
            f"{origin}: unknown key '{key}'; remove it or check the spelling"
            + (
                f" (valid keys of [{parent}] are listed in the README)"
                if parent != "(top level)"
                else ""
            )
        )
    msg = err["msg"].removeprefix("Value error, ")
    return SpecError(f"{origin}: {key}: {msg} (got {got!r}); fix this value and run again")


def load(path: str | Path, overrides: dict[str, Any] | None = None) -> Spec:
    """Read and validate a spec file; `overrides` are dotted keys from the command line."""
    path = Path(path)
    if not path.exists():
        raise SpecError(
            f"spec file '{path}' does not exist; give the path of a TOML experiment spec"
        )
    try:
        # utf-8-sig: a spec saved by an editor that writes a byte-order mark reads as written
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: invalid TOML: {exc}; fix the syntax") from exc
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not a UTF-8 text file; give a TOML experiment spec") from exc
    except OSError as exc:
        raise SpecError(
            f"spec file '{path}' cannot be read ({exc.strerror}); "
            f"give the path of a TOML experiment spec"
        ) from None
    return from_dict(raw, origin=str(path), base_dir=path.resolve().parent, overrides=overrides)


def from_dict(
    raw: dict[str, Any],
    *,
    origin: str = "spec",
    base_dir: Path = Path(),
    overrides: dict[str, Any] | None = None,
) -> Spec:
    raw = dict(raw)
    if "base_dir" in raw:
        raise SpecError(f"{origin}: unknown key 'base_dir'; remove it")
    for dotted, value in (overrides or {}).items():
        node = raw
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    if raw.get("script") is not None:
        both = [k for k in _MODEL_SECTIONS if raw.get(k) is not None]
        if both:
            raise SpecError(
                f"{origin}: [script] runs your own training script, so [{'], ['.join(both)}] "
                f"cannot be used with it; remove one or the other"
            )
    try:
        spec = Spec.model_validate({**raw, "base_dir": base_dir})
    except ValidationError as exc:
        raise _explain(exc, origin) from None
    _check_files(spec, origin)
    if spec.script is not None:
        scripts.check(spec, origin)
    return spec


# What a script replaces: tfrepro's own model, data and training loop.
_MODEL_SECTIONS = ("model", "data", "train", "params")


# expressions with a scope of their own: what they bind is not the module's
_INNER_SCOPES = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def top_level_names(tree: ast.Module) -> set[str]:
    """The names a module binds at its top level to something that may build a model: def,
    assignment (also in an if, try, with or for block), import and import-from aliases; "*"
    for a star import, which may bind any name. Not a class statement: calling a class
    makes an instance of it, not a Keras model."""
    names: set[str] = set()
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)  # its body is another scope
        elif isinstance(node, ast.ClassDef):
            continue
        elif isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Store):
                names.add(node.id)
        elif isinstance(node, ast.AnnAssign) and node.value is None:
            continue  # `build_model: Callable` only annotates
        elif not isinstance(node, _INNER_SCOPES):
            todo.extend(ast.iter_child_nodes(node))
    return names


def _check_files(spec: Spec, origin: str) -> None:
    model = spec.model_path()
    if model is not None:
        if not model.exists():
            raise SpecError(
                f"{origin}: model.source: model file '{model}' does not exist; fix the path"
            )
        try:
            tree = ast.parse(model.read_text(), filename=str(model))
        except SyntaxError as exc:
            raise SpecError(
                f"{origin}: model file '{model}' has a syntax error at line {exc.lineno}: {exc.msg}"
            ) from None
        except (OSError, ValueError) as exc:  # a folder, unreadable, not UTF-8, NUL bytes
            raise SpecError(
                f"{origin}: model.source: cannot read model file '{model}' as Python source "
                f"({exc}); give the path of a .py file"
            ) from None
        if not {"build_model", "*"} & top_level_names(tree):
            raise SpecError(
                f"{origin}: model file '{model}' does not define build_model at its top level; "
                f"add `def build_model(ctx):` (or `build_model = ...`) returning a compiled "
                f"Keras model"
            )
    data = spec.data_path()
    if data is not None and not data.exists():
        raise SpecError(f"{origin}: data.name: dataset file '{data}' does not exist; fix the path")
