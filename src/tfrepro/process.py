"""The one place that spawns processes (uv, environment interpreters).

Tests intercept `run` or `spawn` here. Nothing ever goes through a shell.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False


def _env(extra: Mapping[str, str] | None, base: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    if extra:
        env.update(extra)
    return env


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    base_env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float | None = None,
    stdout_path: Path | None = None,
    stderr_path: Path | None = None,
) -> Completed:
    """Run a command to completion in its own process group.

    On timeout the whole group is killed (TensorFlow starts threads and sometimes
    children) and `timed_out` is set. Output goes to files when paths are given, so
    that a crash still leaves the output behind for the traceback.
    """
    argv = tuple(str(a) for a in argv)
    with contextlib.ExitStack() as files:
        out = files.enter_context(open(stdout_path, "w")) if stdout_path else subprocess.PIPE
        err = files.enter_context(open(stderr_path, "w")) if stderr_path else subprocess.PIPE
        proc = subprocess.Popen(
            argv,
            env=_env(env, base_env),
            cwd=cwd,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        timed_out = False
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            stdout, stderr = proc.communicate()
        except BaseException:
            # KeyboardInterrupt or the host dying: never leave an orphaned TF process.
            _kill_group(proc)
            raise
    if stdout_path:
        stdout = Path(stdout_path).read_text(errors="replace")
    if stderr_path:
        stderr = Path(stderr_path).read_text(errors="replace")
    return Completed(argv, proc.returncode, stdout or "", stderr or "", timed_out)


def spawn(
    argv: Sequence[str], *, base_env: Mapping[str, str], cwd: Path, stderr_path: Path
) -> subprocess.Popen[bytes]:
    """A long-lived child (a warm worker) in its own process group, talking over stdin/stdout
    pipes; its stderr goes to a file. The caller ends it (WorkerPool.close)."""
    with open(stderr_path, "ab") as err:
        return subprocess.Popen(
            [str(a) for a in argv],
            env=dict(base_env),
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            start_new_session=True,
        )


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@cache
def uv_binary() -> str:
    """The uv executable: the one shipped with the `uv` package, else the one on PATH."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found:
            return found
    from tfrepro.errors import EnvironmentBuildError

    raise EnvironmentBuildError(
        "uv was not found: install it with `pip install uv` "
        "(tfrepro builds its environments with uv)"
    )


def uv(args: Sequence[str], **kwargs: object) -> Completed:
    """Run uv without ever letting it download a Python build (this machine has no internet)."""
    env = dict(kwargs.pop("env", None) or {})  # type: ignore[call-overload]
    env.setdefault("UV_PYTHON_DOWNLOADS", "never")
    env.setdefault("UV_NO_PROGRESS", "1")
    return run([uv_binary(), *args], env=env, **kwargs)  # type: ignore[arg-type]
