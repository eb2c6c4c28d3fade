"""Can the planned interpreters run the user's source? Checked on the host once the plan is
known, so a model file or script written for a newer Python than an old release's (TF 1.15 runs
on Python 3.7) is refused in one line before any environment is built, not inside every cell.

Two kinds of trouble: syntax the old parser refuses (`ast.parse(feature_version=...)`: `match`,
the walrus, parenthesized context managers, ...), and annotations that parse everywhere but that
Python evaluates when the file is imported (`int | None` needs 3.10, `list[int]` 3.9).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from tfrepro.errors import SpecError

_HOST_MINOR = sys.version_info[1]
# builtins that became subscriptable in annotations with Python 3.9 (PEP 585)
_GENERIC_BUILTINS = frozenset({"list", "dict", "tuple", "set", "frozenset", "type"})


@dataclass(frozen=True)
class Problem:
    line: int
    what: str  # what cannot run, and what it needs
    fix: str  # how to make the file run there (besides dropping the release)


def _minor(python_version: str) -> int:
    return int(python_version.split(".")[1])


def _future_annotations(tree: ast.Module) -> bool:
    return any(
        isinstance(n, ast.ImportFrom)
        and n.module == "__future__"
        and any(a.name == "annotations" for a in n.names)
        for n in tree.body
    )


def _evaluated_annotations(node: ast.AST, in_function: bool = False) -> Iterator[ast.expr]:
    """The annotations Python evaluates when the code runs: every def's parameters and return,
    module and class variables (a function's own variable annotations never are)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            a = child.args
            for arg in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg):
                if arg is not None and arg.annotation is not None:
                    yield arg.annotation
            if child.returns is not None:
                yield child.returns
            yield from _evaluated_annotations(child, in_function=True)
        elif isinstance(child, ast.ClassDef):
            yield from _evaluated_annotations(child, in_function=False)
        elif isinstance(child, ast.AnnAssign):
            if not in_function:
                yield child.annotation
        else:
            yield from _evaluated_annotations(child, in_function)


def _needs(node: ast.AST) -> int | None:
    """The Python minor an annotation needs to evaluate `node`: 10 for `X | Y`, 9 for
    `list[int]` and the like; None when any does."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return 10
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and node.value.id in _GENERIC_BUILTINS
    ):
        return 9
    return None


def _annotation_problem(tree: ast.Module, minor: int) -> Problem | None:
    if _future_annotations(tree):
        return None
    for annotation in _evaluated_annotations(tree):
        for node in ast.walk(annotation):
            needs = _needs(node)
            if needs is not None and minor < needs:
                assert isinstance(node, ast.expr)
                text = ast.unparse(node)
                text = text if len(text) <= 40 else text[:39] + "…"
                return Problem(
                    node.lineno,
                    f"the annotation `{text}` needs Python 3.{needs} where it is evaluated "
                    f"at import",
                    "add `from __future__ import annotations` at the top of the file",
                )
    return None


def problem(source: str | bytes, minor: int) -> Problem | None:
    """The first thing in `source` that Python 3.`minor` cannot run, or None. `source` must
    parse on the host (spec loading checked that)."""
    try:
        tree = ast.parse(source, feature_version=(3, min(minor, _HOST_MINOR)))
    except SyntaxError as exc:
        line = _statement_line(source, exc.msg, exc.lineno or 0)
        return Problem(line, exc.msg, f"rewrite it for Python 3.{minor}")
    return _annotation_problem(tree, minor)


# the statements whose error the parser puts on their last line
_STATEMENTS: dict[str, tuple[type[ast.stmt], ...]] = {
    "Pattern matching": (ast.Match,),
    "Parenthesized context managers": (ast.With, ast.AsyncWith),
    "Exception groups": (ast.TryStar,),
}


def _statement_line(source: str | bytes, message: str, line: int) -> int:
    """The first line of the statement an old parser refused (it names the last one)."""
    kinds = next((k for words, k in _STATEMENTS.items() if message.startswith(words)), None)
    if kinds is None:
        return line
    spans = [
        n.lineno
        for n in ast.walk(ast.parse(source))
        if isinstance(n, kinds) and n.lineno <= line <= (n.end_lineno or n.lineno)
    ]
    return max(spans, default=line)


def check(
    source: str | bytes,
    what: str,
    pythons: Mapping[str, str],
    where: Callable[[int], str] = lambda line: f"line {line}",
) -> None:
    """Refuse `source` (named `what`, e.g. "model file 'net.py'") in one line when a planned
    release's Python cannot run it. `pythons`: release → the Python version its cells use;
    `where(line)` words a line of `source`."""
    found = {m: problem(source, m) for m in sorted({_minor(v) for v in pythons.values()})}
    failing = [m for m, p in found.items() if p is not None]
    if not failing:
        return
    first = found[failing[0]]
    assert first is not None
    releases = [r for r, v in pythons.items() if _minor(v) in failing]
    listing = ", ".join(f"{r} (Python 3.{_minor(pythons[r])})" for r in releases)
    them = "that release" if len(releases) == 1 else "those releases"
    raise SpecError(
        f"{what} {where(first.line)}: {first.what}, and TensorFlow {listing} cannot run it: "
        f"{first.fix}, or drop {them} (--tf / matrix.tf)"
    )
