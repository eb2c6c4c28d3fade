"""The package's shape: one direction of data, no import cycle, a guest that stays a guest.

Imports are read from the source with `ast` (module level and inside functions; imports under
`if TYPE_CHECKING:` are for annotations only and are left out).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "tfrepro"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, *, top_level_only: bool = False, type_checking: bool = False) -> set[str]:
    """Absolute names of the modules `path` imports (type_checking: those under `if
    TYPE_CHECKING:` too)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST, depth: int) -> None:
        for child in ast.iter_child_nodes(node):
            if not type_checking and isinstance(child, ast.If) and _is_type_checking(child):
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in child.names)
            if top_level_only and isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            visit(child, depth + 1)

    visit(ast.parse(path.read_text()), 0)
    return found


HOST = sorted(p for p in PACKAGE.rglob("*.py") if "runner" not in p.relative_to(PACKAGE).parts)
GUEST = sorted((PACKAGE / "runner").rglob("*.py"))
MODULES = {_module_name(p) for p in HOST}


def _graph(*, top_level_only: bool) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in HOST:
        names = _imports(path, top_level_only=top_level_only)
        graph[_module_name(path)] = {n for n in names if n in MODULES} - {_module_name(path)}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := dfs(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := dfs(node)):
            return found
    return None


def test_no_import_cycle_between_host_modules() -> None:
    # package __init__ modules are only namespaces here; a cycle through one would still count
    cycle = _cycle(_graph(top_level_only=False))
    assert cycle is None, " → ".join(cycle or [])


def _guest_graph() -> dict[str, set[str]]:
    """The guest's imports among its own modules (`tfrepro_guest.x`, as __main__ imports them
    when the runner runs by path, is `tfrepro.runner.tfrepro_guest.x`), TYPE_CHECKING included."""
    names = {_module_name(p) for p in GUEST}
    graph: dict[str, set[str]] = {}
    for path in GUEST:
        found = {
            n if n.startswith("tfrepro.") else f"tfrepro.runner.{n}"
            for n in _imports(path, type_checking=True)
        }
        graph[_module_name(path)] = {n for n in found if n in names} - {_module_name(path)}
    return graph


def test_no_import_cycle_between_guest_modules() -> None:
    cycle = _cycle(_guest_graph())
    assert cycle is None, " → ".join(cycle or [])


def test_the_guest_graph_sees_the_guest() -> None:
    graph = _guest_graph()
    assert "tfrepro.runner.tfrepro_guest.protocol" in graph["tfrepro.runner.tfrepro_guest.job"]
    assert "tfrepro.runner.tfrepro_guest.job" in graph["tfrepro.runner.__main__"]


def test_no_import_cycle_counting_type_checking_imports() -> None:
    graph: dict[str, set[str]] = {}
    for path in HOST:
        names = _imports(path, type_checking=True)
        graph[_module_name(path)] = {n for n in names if n in MODULES} - {_module_name(path)}
    cycle = _cycle(graph)
    assert cycle is None, " → ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        # pure analysis: no orchestration, no rendering, no process spawning
        ("analysis", {"tasks", "cli", "report", "execute", "process", "store"}),
        # rendering: never runs anything, never opens the store (tasks hand it the data)
        ("report", {"tasks", "cli", "execute", "process", "store"}),
        # orchestration: never parses arguments
        ("tasks", {"cli"}),
        ("execute", {"tasks", "cli", "report", "analysis", "store"}),
        ("envs", {"tasks", "cli", "report", "analysis", "store", "plan", "execute"}),
        ("store", {"tasks", "cli", "report", "analysis", "execute", "envs"}),
        ("record", {"tasks", "cli", "report", "analysis", "execute", "envs", "store"}),
    ],
)
def test_layers_import_only_from_their_left(layer: str, forbidden: set[str]) -> None:
    graph = _graph(top_level_only=False)
    bad = {
        (module, dep)
        for module, deps in graph.items()
        if _layer(module) == layer
        for dep in deps
        if _layer(dep) in forbidden
    }
    assert not bad, sorted(bad)


def test_analysis_and_report_never_import_tensorflow() -> None:
    for path in HOST:
        if _layer(_module_name(path)) in ("analysis", "report"):
            names = _imports(path)
            assert not {n for n in names if n.split(".")[0] in ("tensorflow", "keras")}, path


def test_the_guest_imports_only_the_standard_library_numpy_and_tensorflow() -> None:
    import sys

    allowed = set(sys.stdlib_module_names) | {
        "numpy",
        "tensorflow",
        "keras",
        "tf_keras",
        "tfrepro_guest",
    }
    for path in GUEST:
        for name in _imports(path):
            top = name.split(".")[0]
            assert top in allowed or name.startswith("tfrepro.runner"), (path, name)
            assert not name.startswith("tfrepro.") or name.startswith("tfrepro.runner"), name


def test_the_cli_is_only_wiring() -> None:
    """Only the CLI imports the CLI, and no CLI module grows into logic."""
    graph = _graph(top_level_only=False)
    users = {m for m, deps in graph.items() if any(_layer(d) == "cli" for d in deps)}
    assert {_layer(m) for m in users} <= {"cli", "__main__"}, users
    for path in (PACKAGE / "cli").glob("*.py"):
        assert len(path.read_text().splitlines()) <= 300, f"{path.name} is no longer thin"
