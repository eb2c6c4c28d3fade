"""tfrepro.python_compat: a source an old release's Python cannot run is named in one line, with
its line, what it needs and the releases that cannot run it; what every Python runs passes."""

from __future__ import annotations

import pytest

from tfrepro import python_compat
from tfrepro.errors import SpecError

TF1 = {"1.15.5": "3.7.17"}
BOTH = {"1.15.5": "3.7.17", "2.4.4": "3.8.18", "2.16.2": "3.11.7"}


@pytest.mark.parametrize(
    ("source", "minor", "line", "what"),
    [
        ("x = 1\nmatch x:\n    case 1:\n        pass\n", 9, 2, "Pattern matching"),
        ("if (a := 1):\n    pass\n", 7, 1, "Assignment expressions"),
        ("def f(a, /):\n    pass\n", 7, 1, "Positional-only parameters"),
        ("with (open('a') as f,\n      open('b') as g):\n    pass\n", 8, 1, "Parenthesized"),
        ("try:\n    pass\nexcept* ValueError:\n    pass\n", 10, 1, "Exception groups"),
        ("x = 1\nprint(f'{x=}')\n", 7, 2, "self documenting"),
        ("def f(x: int | None):\n    pass\n", 9, 1, "`int | None` needs Python 3.10"),
        ("def f() -> list[int]:\n    pass\n", 8, 1, "`list[int]` needs Python 3.9"),
        ("class C:\n    x: dict[str, int] = {}\n", 8, 2, "`dict[str, int]`"),
        ("y: int | str = 1\n", 9, 1, "`int | str`"),
    ],
)
def test_what_an_old_python_cannot_run_is_found_at_its_line(
    source: str, minor: int, line: int, what: str
) -> None:
    found = python_compat.problem(source, minor)
    assert found is not None
    assert (found.line, what in found.what) == (line, True), found


@pytest.mark.parametrize(
    ("source", "minor"),
    [
        ("x = 1\nmatch x:\n    case 1:\n        pass\n", 10),
        ("if (a := 1):\n    pass\n", 8),
        ("def f(x: int | None):\n    pass\n", 10),
        ("from __future__ import annotations\ndef f(x: int | None) -> list[int]:\n    pass\n", 7),
        ("def f():\n    x: int | None = None\n", 7),  # a local annotation is never evaluated
        ("def f(x: 'int | None'):\n    pass\n", 7),  # nor is a string
        ("flags = 1 | 2\nitems = [1][0]\n", 7),  # `|` and subscripts outside annotations
        ("match = 1\ncase = match\n", 7),  # soft keywords as names
        ("def f(x: List[int], y: Optional[int]):\n    pass\n", 7),  # typing's generics
    ],
)
def test_what_the_python_runs_passes(source: str, minor: int) -> None:
    assert python_compat.problem(source, minor) is None


def test_the_error_names_the_file_line_syntax_and_release() -> None:
    with pytest.raises(SpecError) as found:
        python_compat.check(
            "def build_model(ctx):\n    match ctx:\n        case 1:\n            pass\n",
            "model file 'net.py'",
            TF1,
        )
    message = str(found.value)
    assert message.startswith("model file 'net.py' line 2: Pattern matching is only supported")
    assert "TensorFlow 1.15.5 (Python 3.7) cannot run it" in message
    assert "rewrite it for Python 3.7, or drop that release (--tf / matrix.tf)" in message
    assert "\n" not in message


def test_every_release_whose_python_cannot_run_it_is_named() -> None:
    with pytest.raises(SpecError) as found:
        python_compat.check("with (open('a') as f):\n    pass\n", "script 't.py'", BOTH)
    message = str(found.value)
    assert "TensorFlow 1.15.5 (Python 3.7), 2.4.4 (Python 3.8) cannot run it" in message
    assert "2.16.2" not in message and "drop those releases" in message


def test_an_annotation_suggests_the_future_import() -> None:
    with pytest.raises(SpecError, match="add `from __future__ import annotations`"):
        python_compat.check("def f(x: int | None):\n    pass\n", "model file 'n.py'", BOTH)


def test_a_source_every_planned_python_runs_passes() -> None:
    python_compat.check("if (a := 1):\n    pass\n", "script 't.py'", {"2.16.2": "3.11.7"})
    python_compat.check("x = 1\n", "script 't.py'", {})


def test_a_python_newer_than_the_host_is_checked_as_the_host() -> None:
    assert python_compat.problem("x = 1\n", 99) is None
