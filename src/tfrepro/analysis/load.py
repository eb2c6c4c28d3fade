"""The analysis package's only file I/O: predictions and test labels from the artifact files the
cells name, and baseline files; and what the analysis takes from the cells and runs a task read
from the store (the reruns, the margin of the stored specs). It never opens the store itself.
Everything else in analysis/ is pure."""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tfrepro import files
from tfrepro.analysis.compare import cell_key
from tfrepro.errors import FileWriteError, UsageError
from tfrepro.record import CellRecord as Cell
from tfrepro.runner.tfrepro_guest.platform.hashing import DATA_KEYS, data_sha256
from tfrepro.runner.tfrepro_guest.protocol import Array


def _npz(path: str | Path) -> Any:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile):
        return None


def reruns(every: Sequence[Cell]) -> list[Cell]:
    """The cells to group `by` attempt, from every attempt of every cell: every attempt of the
    cells recorded more than once (comparing a cell with its own reruns)."""
    times = Counter(c["id"] for c in every)
    rerun = [c for c in every if times[c["id"]] > 1]
    if every and not rerun:
        raise UsageError(
            "--by attempt compares reruns, and no cell was run more than once: "
            "rerun some with `tfrepro run ... --rerun`"
        )
    return rerun


def predictions(cells: Sequence[Cell]) -> dict[str, np.ndarray]:
    """Test-split predictions by cell key (compare.cell_key); cells whose arrays file is missing
    or has no predictions are left out (churn then covers the others)."""
    counts = Counter(c.get("id") for c in cells)
    by_path: dict[str, np.ndarray | None] = {}
    out: dict[str, np.ndarray] = {}
    for c in cells:
        path = c.get("arrays")
        if not path:
            continue
        if path not in by_path:
            z = _npz(path)
            by_path[path] = (
                z[Array.PREDICTIONS] if z is not None and Array.PREDICTIONS in z.files else None
            )
        found = by_path[path]
        if found is not None:
            out[cell_key(c, unique=counts[c.get("id")] == 1)] = found
    return out


def labels(cells: Sequence[Cell]) -> dict[str, np.ndarray]:
    """True test labels by data_sha256, from the dataset files the store kept next to the
    cells' arrays (every run saves its prepared data as an artifact)."""
    wanted = {c["data_sha256"] for c in cells if c.get("data_sha256")}
    roots = {Path(str(c["arrays"])).parents[1] for c in cells if c.get("arrays")}
    out: dict[str, np.ndarray] = {}
    for c in cells:  # a script cell keeps the labels of its evaluation data with its arrays
        sha = c.get("data_sha256")
        if c.get("script") and sha and sha not in out and c.get("arrays"):
            z = _npz(str(c["arrays"]))
            if z is not None and Array.LABELS in z.files:
                out[sha] = z[Array.LABELS]
    for root in roots:
        for path in sorted(root.glob("*/*.npz")):
            if wanted <= out.keys():
                return out
            z = _npz(path)
            if z is None or not set(DATA_KEYS) <= set(z.files):
                continue
            data = {k: z[k] for k in DATA_KEYS}
            sha = data_sha256(data)
            if sha in wanted:
                out[sha] = data["y_test"]
    return out


def spec_margin(runs: Sequence[dict[str, Any]], cells: Sequence[Cell]) -> float | None:
    """The `margin` of the newest run spec among the runs (the store's, oldest first) that
    recorded these cells."""
    used = {c.get("run_id") for c in cells}
    for run in reversed(runs):
        margin = run["spec"].get("margin") if run["id"] in used else None
        if isinstance(margin, int | float) and margin > 0:
            return float(margin)
    return None


_SQLITE = b"SQLite format 3\x00"
_JSON_KINDS = {list: "a JSON array", str: "a JSON string", bool: "JSON true/false"}


def _not_a_baseline(path: Path, what: str, store: Path | None = None) -> UsageError:
    """`path` is `what`, not a baseline: say so, and what to pass instead."""
    save = f"tfrepro baseline save baseline.json{f' --store {store}' if store else ''}"
    return UsageError(
        f"--baseline: '{path}' is not a tfrepro baseline ({what}); pass the JSON file that "
        f"`tfrepro baseline save FILE` writes (e.g. `{save}`, then --baseline baseline.json)"
    )


def _json_kind(data: Any) -> str:
    if isinstance(data, list) and data and all(isinstance(d, dict) for d in data):
        keys = set(data[0])
        if {"id", "tf_version", "status"} <= keys:
            return "the output of `tfrepro cells --json`: a JSON array, not a JSON object"
        if {"a", "b", "verdict"} <= keys:
            return "the output of `tfrepro compare --json`: a JSON array, not a JSON object"
    kind = _JSON_KINDS.get(type(data), "a JSON number" if data is not None else "JSON null")
    return f"{kind}, not a JSON object"


def read_baseline(path: Path) -> dict[str, Any]:
    path = Path(path)
    if path.is_dir():
        if (path / "tfrepro.sqlite").exists():
            raise _not_a_baseline(path, "a result store's folder", store=path)
        raise _not_a_baseline(path, "a folder")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(
            f"--baseline: no file '{path}'; create one with `tfrepro baseline save {path}`"
        ) from None
    except OSError as exc:
        raise UsageError(f"--baseline: cannot read '{path}': {exc.strerror}") from None
    if raw.startswith(_SQLITE):
        raise _not_a_baseline(path, "a SQLite database: a result store's file", path.parent)
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _not_a_baseline(path, "not UTF-8 text") from None
    except ValueError as exc:
        raise UsageError(
            f"--baseline: '{path}' is not valid JSON ({exc}); recreate it with "
            f"`tfrepro baseline save {path}`"
        ) from None
    if not isinstance(data, dict):
        raise _not_a_baseline(path, _json_kind(data))
    if "format" not in data:
        raise _not_a_baseline(path, "a JSON object without a 'format' key")
    return data


def write_baseline(path: Path, data: dict[str, Any]) -> None:
    """Write atomically (temp file + rename), so a failed save never leaves half a baseline."""
    try:
        files.write_text(path, json.dumps(data, indent=1) + "\n")
    except FileWriteError as exc:
        raise UsageError(f"baseline save: {exc}") from None
