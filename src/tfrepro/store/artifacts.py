"""Arrays kept as content-addressed files: `artifacts/<sha[:2]>/<sha><suffix>`, placed with an
atomic rename, so a file under its name is always whole."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import numpy as np

from tfrepro import files
from tfrepro.store.connection import Connection


class Artifacts(Connection):
    def put_artifact(self, path: Path, suffix: str = ".npz", *, move: bool = False) -> str:
        """Copy (or move) a file into the artifact folder under its sha256; returns the sha."""
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        sha = h.hexdigest()
        target = self.artifact_path(sha, suffix)
        if not target.exists():
            files.place(path, target, move=move)
        return sha

    def put_arrays(self, arrays: dict[str, np.ndarray]) -> Path:
        """Keep numpy arrays as an .npz artifact; returns its path."""
        with tempfile.NamedTemporaryFile(suffix=".npz", dir=self.root, delete=False) as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]
            staged = Path(f.name)
        try:
            return self.artifact_path(self.put_artifact(staged, move=True))
        finally:
            staged.unlink(missing_ok=True)

    def artifact_path(self, sha: str, suffix: str = ".npz") -> Path:
        return self.root / "artifacts" / sha[:2] / f"{sha}{suffix}"
