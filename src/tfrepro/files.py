"""Writing files atomically: a temporary file beside the target, then one rename.

A reader (another tfrepro process, a browser, CI reading a baseline) sees the whole old file or
the whole new one, never half a file; a write that fails removes its temporary file and raises
one `FileWriteError` that names the path. Callers for whom a failed write only costs a cache
(datasets) catch it; everyone else lets the CLI print it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

from tfrepro.errors import FileWriteError


def _temporary(path: Path) -> Path:
    # unique per process and thread: several cells or probes may write the same target at once
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def _replace(path: Path, fill: Callable[[Path], object]) -> Path:
    path = Path(path)
    tmp = _temporary(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fill(tmp)
        tmp.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise FileWriteError(path, exc) from None
    return path


def write_text(path: Path, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically; returns the path."""
    return _replace(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_with(path: Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Write `path` atomically through `write(binary file)`, e.g. `np.savez`."""

    def fill(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # open() honours the umask, unlike mkstemp
            write(f)

    return _replace(path, fill)


def place(source: Path, path: Path, *, move: bool = False) -> Path:
    """Copy (or move) `source` to `path` atomically."""
    if move:
        return _replace(path, lambda tmp: shutil.move(str(source), tmp))
    return _replace(path, lambda tmp: shutil.copyfile(source, tmp))
