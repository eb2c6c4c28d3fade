"""Script mode on the host: the user's own `train.py` or notebook, run unchanged as every cell.

What the command means (`target`), whether it can run (`check`, before anything else runs),
what defines it for the cell id (`project_sha256`), a notebook as Python source
(`notebook_source`), and the private copy of the script's folder each cell runs in (`mirror`),
so cells running side by side never overwrite each other's checkpoints, saved models or logs.
Inside the environment, runner/tfrepro_guest/script/ runs it.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tfrepro.errors import SpecError


class _Command(Protocol):
    def program(self) -> tuple[str, str, tuple[str, ...]]: ...


class HasScript(Protocol):
    """What this module reads of a spec (tfrepro.spec.Spec): its [script] and the folder the
    script starts in. Structural, so that spec imports scripts and never the reverse."""

    @property
    def script(self) -> _Command | None: ...

    def script_cwd(self) -> Path | None: ...


# Folders never copied into a cell's working folder (nor hashed): version control, caches,
# virtual environments, and tfrepro's own stores (a folder holding tfrepro.sqlite).
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        ".ipynb_checkpoints",
        ".venv",
        "venv",
        "node_modules",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
    }
)
COPY_LIMIT = 1 << 20  # files up to 1 MiB are copied into the cell's folder, larger ones linked
MAX_ENTRIES = 20_000  # beyond this many files, further folders are linked whole
HASH_LIMIT = 2_000  # .py files hashed into the cell id


@dataclass(frozen=True)
class Target:
    """What to run: a file (script or notebook) relative to `cwd`, or a module (`python -m`)."""

    kind: str  # "file" | "notebook" | "module"
    name: str  # the path as given, or the module name
    argv: tuple[str, ...]  # what the script sees after its own name
    cwd: Path
    source: str | None = None  # a notebook's code cells as one Python source
    warnings: tuple[str, ...] = field(default=())  # the notebook lines left out

    @property
    def path(self) -> Path:
        return (self.cwd / self.name).resolve()


def target(spec: HasScript) -> Target:
    assert spec.script is not None
    kind, name, argv = spec.script.program()
    t = Target(kind, name, argv, spec.script_cwd() or Path.cwd())
    if kind == "notebook" and t.path.is_file():  # read once: every cell's job carries it
        source, warnings = notebook_source(t.path)
        return dataclasses.replace(t, source=source, warnings=tuple(warnings))
    return t


def check(spec: HasScript, origin: str) -> None:
    """Everything that can be known wrong before a cell runs, as one SpecError line."""
    t = target(spec)
    if not t.cwd.is_dir():
        raise SpecError(f"{origin}: script.cwd: folder '{t.cwd}' does not exist; fix the path")
    if t.kind == "module":
        if not re.match(r"^[A-Za-z_][\w.]*$", t.name):
            raise SpecError(f"{origin}: script.command: '{t.name}' is not a module name")
        return
    path = t.path
    if not path.is_file():
        what = "notebook" if t.kind == "notebook" else "script"
        raise SpecError(
            f"{origin}: script.command: {what} '{path}' does not exist; give its path relative "
            f"to {t.cwd}"
        )
    if t.kind == "notebook":
        return  # target() read it: a notebook that is not one raised there
    try:
        ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as exc:
        raise SpecError(
            f"{origin}: script '{path}' has a syntax error at line {exc.lineno}: {exc.msg}"
        ) from None
    except (OSError, ValueError) as exc:
        raise SpecError(
            f"{origin}: script '{path}' cannot be read as Python source ({exc}); "
            f"give the path of a .py file"
        ) from None


def _magic(line: str) -> bool:
    s = line.lstrip()
    return s.startswith(("%", "!")) or "get_ipython()" in s


def notebook_source(path: Path) -> tuple[str, list[str]]:
    """The notebook's code cells in order as one Python source, and a warning per skipped
    IPython line: `%magic`, `!shell` and `get_ipython()` lines are left out (a `%%` cell magic
    leaves out its whole cell), each named by cell number."""
    import warnings as warnings_mod

    import nbformat

    try:
        with warnings_mod.catch_warnings():
            warnings_mod.simplefilter("ignore")  # e.g. cells without ids in hand-made files
            nb = nbformat.read(str(path), as_version=4)
    except (
        OSError,
        ValueError,
        KeyError,
        AttributeError,
        TypeError,
        nbformat.ValidationError,
    ) as exc:
        raise SpecError(
            f"notebook '{path}' cannot be read as a Jupyter notebook ({type(exc).__name__}: "
            f"{str(exc)[:200]}); give an .ipynb file saved by Jupyter"
        ) from None
    warnings: list[str] = []
    parts: list[str] = []
    number = 0
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        number += 1
        lines = str(cell.get("source", "")).splitlines()
        if lines and lines[0].lstrip().startswith("%%"):
            warnings.append(f"notebook cell {number}: cell magic {lines[0].strip()!r} skipped")
            continue
        kept = []
        for line in lines:
            if _magic(line):
                warnings.append(f"notebook cell {number}: IPython line {line.strip()!r} skipped")
                # keep the block valid: an indented magic becomes `pass`
                indent = line[: len(line) - len(line.lstrip())]
                kept.append(f"{indent}pass" if indent else "")
            else:
                kept.append(line)
        source = "\n".join(kept)
        try:
            ast.parse(source)
        except SyntaxError as exc:
            raise SpecError(
                f"notebook '{path}': code cell {number} has a syntax error at line "
                f"{exc.lineno}: {exc.msg}; fix that cell"
            ) from None
        parts.append(f"# --- notebook cell {number}\n{source}\n")
    if not parts:
        raise SpecError(f"notebook '{path}' has no code cells; nothing to run")
    return "\n".join(parts), warnings


def notebook_where(source: str) -> Callable[[int], str]:
    """A line of notebook_source's source, in the notebook's words: code cell and line."""
    starts = [
        (at, int(m.group(1)))
        for at, line in enumerate(source.splitlines(), 1)
        if (m := re.fullmatch(r"# --- notebook cell (\d+)", line))
    ]

    def where(line: int) -> str:
        cell = next(((at, n) for at, n in reversed(starts) if at < line), None)
        return f"line {line}" if cell is None else f"code cell {cell[1]} line {line - cell[0]}"

    return where


def _walk(root: Path) -> Iterator[tuple[Path, list[str], list[str]]]:
    """os.walk without the skipped folders; emptying the yielded folder list prunes the walk."""
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames if d not in SKIP_DIRS and not (here / d / "tfrepro.sqlite").exists()
        )
        yield here, dirnames, sorted(filenames)


def project_sha256(t: Target) -> str:
    """A hash of what the script is: its command and the Python sources of its folder (the
    script itself, local modules it imports). Data files are not hashed: the cell records a
    fingerprint of the data that training saw instead."""
    h = hashlib.sha256(json.dumps([t.kind, t.name, list(t.argv)]).encode())
    if t.kind != "module":
        h.update(t.path.read_bytes())
    n = 0
    for here, _, filenames in _walk(t.cwd):
        for name in filenames:
            if name.endswith(".py") and n < HASH_LIMIT:
                path = here / name
                try:
                    data = path.read_bytes()
                except OSError:
                    continue
                h.update(str(path.relative_to(t.cwd)).encode())
                h.update(hashlib.sha256(data).digest())
                n += 1
    return h.hexdigest()


def mirror(src: Path, dst: Path) -> Path:
    """A private working folder for one cell that looks like `src`: the same folders, small
    files copied (the script, configs, local modules), files over 1 MiB linked (datasets, read
    in place). What the script writes lands in `dst`, never in `src` — except by writing
    *into* an existing large file, which is linked. Returns `dst`."""
    dst.mkdir(parents=True, exist_ok=True)
    entries = 0
    for here, dirnames, filenames in _walk(src):
        target_dir = dst / here.relative_to(src)
        target_dir.mkdir(exist_ok=True)
        for name in filenames:
            entries += 1
            path = here / name
            out = target_dir / name
            try:
                if path.is_file() and path.stat().st_size <= COPY_LIMIT and entries <= MAX_ENTRIES:
                    shutil.copy2(path, out)
                else:
                    out.symlink_to(path.resolve())
            except OSError:
                continue  # unreadable or vanished: the script sees it missing, as it would
        if entries > MAX_ENTRIES:
            for d in dirnames:
                (target_dir / d).symlink_to((here / d).resolve())
            dirnames[:] = []
    return dst
