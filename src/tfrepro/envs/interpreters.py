"""Python interpreters on this machine, and which one each TensorFlow release gets.

Found on PATH (`python3.X`), under pyenv's versions folder, and among the interpreters uv
knows. pyenv *shims* are skipped: they only work for the globally selected version.
By default one interpreter serves every release that supports it (fewer confounders
between cells); a release that cannot use it gets the nearest supported minor.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tfrepro import process
from tfrepro.envs.catalogue import Release, version_key
from tfrepro.errors import NoInterpreterError, UsageError

_PROBE = "import sys, platform; print(platform.python_version())"


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: str  # full, e.g. 3.11.7

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


def probe(path: str | Path) -> Interpreter | None:
    try:
        done = process.run([str(path), "-I", "-c", _PROBE], timeout=20)
    except OSError:
        return None
    if done.returncode != 0 or done.timed_out:
        return None
    return Interpreter(str(path), done.stdout.strip())


def _candidate_paths() -> list[str]:
    seen: list[str] = []
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    for bin_python in sorted(pyenv_root.glob("versions/*/bin/python3")):
        seen.append(str(bin_python))
    for minor in range(6, 16):
        found = shutil.which(f"python3.{minor}")
        if found and "/shims/" not in found:
            seen.append(found)
    # pyenv's shims are skipped (they run one pyenv version or fail); hiding them from uv's
    # PATH too keeps it from starting each of them: ~1 s less for every command
    path = os.pathsep.join(
        p for p in os.environ.get("PATH", "").split(os.pathsep) if "/shims" not in p
    )
    try:
        done = process.uv(
            ["python", "list", "--only-installed", "--output-format", "json"],
            env={"PATH": path},
            timeout=30,
        )
        if done.returncode == 0:
            for item in json.loads(done.stdout or "[]"):
                if item.get("path") and "/shims/" not in item["path"]:
                    seen.append(item["path"])
    except (OSError, ValueError):
        pass
    return seen


@cache
def discover() -> dict[str, Interpreter]:
    """Minor version → interpreter (the newest patch found for each minor)."""
    best: dict[str, Interpreter] = {}
    real_seen: set[str] = set()
    for path in _candidate_paths():
        real = os.path.realpath(path)
        if real in real_seen:
            continue
        real_seen.add(real)
        interp = probe(path)
        if interp is None:
            continue
        current = best.get(interp.minor)
        if current is None or version_key(interp.version) > version_key(current.version):
            best[interp.minor] = interp
    return dict(sorted(best.items(), key=lambda kv: version_key(kv[0])))


def explicit(path: str) -> Interpreter:
    interp = probe(path)
    if interp is None:
        raise UsageError(
            f"--python {path}: not a working Python interpreter "
            f"(give the path of a python executable)"
        )
    return interp


def pool(python: str | None) -> tuple[dict[str, Interpreter], Interpreter | None]:
    """The interpreters to choose from (minor → interpreter) and the one `--python` forces:
    the forced one replaces what was found for its minor."""
    forced = explicit(python) if python else None
    available = discover()
    if forced is not None:
        available = {**available, forced.minor: forced}
    return available, forced


def choose(
    release: Release,
    available: dict[str, Interpreter],
    preferred: str,
) -> Interpreter:
    """The preferred minor if the release supports it, else the nearest supported one found."""
    usable = [m for m in release.pythons if m in available]
    if preferred in usable:
        return available[preferred]
    if not usable:
        wanted = " or ".join(release.pythons)
        raise NoInterpreterError(
            f"TensorFlow {release.version} needs Python {wanted} and none was found on PATH, "
            f"under ~/.pyenv/versions or among uv's interpreters: install one "
            f"(e.g. `pyenv install {release.pythons[-1]}`) or pass --python /path/to/python"
        )
    target = version_key(preferred)

    def distance(minor: str) -> tuple[int, int]:
        return (abs(version_key(minor)[1] - target[1]), -version_key(minor)[1])

    return available[min(usable, key=distance)]
