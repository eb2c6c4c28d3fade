"""tfrepro.envs.interpreters: probing and which interpreter each release gets."""

from __future__ import annotations

import platform
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tfrepro.envs import interpreters
from tfrepro.envs.catalogue import Release
from tfrepro.envs.interpreters import Interpreter, choose
from tfrepro.errors import NoInterpreterError, UsageError


def rel(*pythons: str, version: str = "2.16.2") -> Release:
    return Release(version, "tensorflow-cpu", "2024-01-01T00:00:00Z", pythons)


def have(*minors: str) -> dict[str, Interpreter]:
    return {m: Interpreter(f"/py/{m}", f"{m}.0") for m in minors}


def test_preferred_minor_is_used_when_the_release_supports_it() -> None:
    got = choose(rel("3.9", "3.10", "3.11", "3.12"), have("3.9", "3.10", "3.11", "3.12"), "3.10")
    assert got.minor == "3.10"


def test_nearest_supported_minor_when_the_preferred_one_is_not_supported() -> None:
    # TF 2.21 has no 3.9 wheels: nearest to 3.9 among 3.10..3.13 is 3.10
    assert (
        choose(rel("3.10", "3.11", "3.12", "3.13"), have("3.9", "3.10", "3.12"), "3.9").minor
        == "3.10"
    )
    # TF 1.15 stops at 3.7: a 3.11 user gets 3.7, not 3.6
    assert choose(rel("3.5", "3.6", "3.7"), have("3.6", "3.7", "3.11"), "3.11").minor == "3.7"


def test_nearest_supported_minor_when_the_preferred_one_is_not_installed() -> None:
    assert choose(rel("3.9", "3.10", "3.11"), have("3.9", "3.10"), "3.11").minor == "3.10"


def test_ties_go_to_the_newer_minor() -> None:
    assert choose(rel("3.9", "3.11"), have("3.9", "3.11"), "3.10").minor == "3.11"


def test_no_usable_interpreter_is_a_clear_error() -> None:
    with pytest.raises(NoInterpreterError) as info:
        choose(rel("3.5", "3.6", "3.7", version="1.15.0"), have("3.11", "3.12"), "3.11")
    msg = str(info.value)
    assert "TensorFlow 1.15.0 needs Python 3.5 or 3.6 or 3.7" in msg
    assert "pyenv install 3.7" in msg and "--python" in msg
    assert "\n" not in msg


def test_interpreter_minor() -> None:
    assert Interpreter("/x", "3.11.7").minor == "3.11"
    assert Interpreter("/x", "3.9.18").minor == "3.9"


def test_probe_reports_the_real_version() -> None:
    got = interpreters.probe(sys.executable)
    assert got == Interpreter(sys.executable, platform.python_version())


def test_probe_of_something_that_is_not_python(tmp_path: Path) -> None:
    assert interpreters.probe(tmp_path / "nope") is None
    assert interpreters.probe(tmp_path) is None  # a folder
    assert interpreters.probe("/bin/false") is None


def test_explicit_rejects_a_non_interpreter(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"--python .*nope: not a working Python interpreter"):
        interpreters.explicit(str(tmp_path / "nope"))


@pytest.fixture
def fresh_discover() -> Iterator[None]:
    interpreters.discover.cache_clear()
    yield
    interpreters.discover.cache_clear()


def test_discover_keeps_one_interpreter_per_real_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_discover: None
) -> None:
    link = tmp_path / "python-link"
    link.symlink_to(sys.executable)
    monkeypatch.setattr(
        interpreters,
        "_candidate_paths",
        lambda: [sys.executable, str(link), str(tmp_path / "gone")],
    )
    probed: list[str] = []
    real_probe = interpreters.probe

    def counting_probe(path: str | Path) -> Interpreter | None:
        probed.append(str(path))
        return real_probe(path)

    monkeypatch.setattr(interpreters, "probe", counting_probe)
    found = interpreters.discover()
    minor = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert list(found) == [minor]
    assert found[minor].version == platform.python_version()
    assert probed == [sys.executable, str(tmp_path / "gone")]  # the symlink was not probed again


def test_discover_keeps_the_newest_patch_of_each_minor_in_numeric_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_discover: None
) -> None:
    fake = {"a": "3.11.2", "b": "3.10.13", "c": "3.11.7", "d": "3.9.18", "e": "3.11.4"}
    paths = []
    for name in fake:
        (tmp_path / name).write_text("")
        paths.append(str(tmp_path / name))
    monkeypatch.setattr(interpreters, "_candidate_paths", lambda: paths)
    monkeypatch.setattr(interpreters, "probe", lambda p: Interpreter(str(p), fake[Path(p).name]))
    found = interpreters.discover()
    assert list(found) == ["3.9", "3.10", "3.11"]
    assert found["3.11"].version == "3.11.7"
    assert found["3.11"].path == str(tmp_path / "c")
