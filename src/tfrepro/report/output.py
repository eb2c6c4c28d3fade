"""Writing report files: atomically (temp file + rename), so a viewer never sees half a file."""

from __future__ import annotations

import os
from pathlib import Path

from tfrepro.errors import TfreproError


def write_text(path: Path, text: str) -> Path:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise TfreproError(f"cannot write '{path}': {exc.strerror or exc}; choose another "
                           f"path") from None
    return path
