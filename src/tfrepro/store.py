"""The result store: SQLite (WAL) plus a content-addressed artifact folder.

Every cell result is written in one transaction, after its arrays were moved into the
artifact folder with an atomic rename, so a killed run loses at most the cells in flight
and never leaves a half-written row. Reruns of a cell are kept as further attempts.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tfrepro.errors import StoreError

SCHEMA_VERSION = "2"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL, started TEXT NOT NULL, finished TEXT,
    command TEXT NOT NULL, spec TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS envs (
    name TEXT PRIMARY KEY, versions TEXT NOT NULL, lock TEXT NOT NULL, request TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    cell_id TEXT NOT NULL, attempt INTEGER NOT NULL, run_id INTEGER NOT NULL REFERENCES runs(id),
    experiment TEXT NOT NULL, tf_version TEXT NOT NULL, python_version TEXT NOT NULL,
    keras_version TEXT, numpy_version TEXT, keras_pin TEXT, seed INTEGER NOT NULL,
    knobs TEXT NOT NULL, env_vars TEXT NOT NULL, env_name TEXT NOT NULL,
    status TEXT NOT NULL, reason TEXT, traceback TEXT,
    data_sha256 TEXT, init_weights_sha256 TEXT, final_weights_sha256 TEXT,
    metrics TEXT, epoch_metrics TEXT, timings TEXT, fingerprint TEXT, knobs_applied TEXT,
    optimizer_class TEXT, logs TEXT, arrays TEXT, peak_memory_mb REAL, wall_seconds REAL,
    finished TEXT NOT NULL,
    UNIQUE (cell_id, attempt)
);
CREATE TABLE IF NOT EXISTS steps (
    result_id INTEGER NOT NULL REFERENCES results(id), step INTEGER NOT NULL, loss REAL,
    PRIMARY KEY (result_id, step)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS results_cell ON results (cell_id);
CREATE TABLE IF NOT EXISTS explanations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT, a TEXT, b TEXT, seed INTEGER, result TEXT
);
"""

# Statuses that count as finished for resume; "timeout" and "failed" are retried with
# --retry-failed, everything with --rerun.
DONE = ("ok", "diverged", "failed", "timeout")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


_NONFINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def _encode(obj: Any) -> Any:
    """Non-finite floats as the strings "inf", "-inf", "nan": strict JSON has no Infinity."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {str(k): _encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_encode(v) for v in obj]
    return obj


def _decode(obj: Any) -> Any:
    """The inverse of _encode (a string value "inf" in a result reads back as the float)."""
    if isinstance(obj, str):
        return _NONFINITE.get(obj, obj)
    if isinstance(obj, dict):
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    return obj


class Store:
    def __init__(self, root: Path, *, create: bool = True) -> None:
        self.root = Path(root).resolve()
        db = self.root / "tfrepro.sqlite"
        if not db.exists() and not create:
            raise StoreError(
                f"no tfrepro store at '{self.root}': run `tfrepro run` first or pass --store DIR"
            )
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            (self.root / "artifacts").mkdir(exist_ok=True)
            self.conn = sqlite3.connect(db, timeout=60, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(_SCHEMA)
            row = self.conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the store at '{self.root}': {exc}") from None
        if row is None:
            self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        elif row[0] != SCHEMA_VERSION:
            raise StoreError(
                f"store '{self.root}' has schema {row[0]}, this tfrepro reads {SCHEMA_VERSION}: "
                f"use a new --store folder"
            )

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write to the store at '{self.root}': {exc}") from None
        try:
            yield self.conn
        except sqlite3.Error as exc:
            self.conn.execute("ROLLBACK")
            raise StoreError(f"writing to the store at '{self.root}' failed: {exc}") from None
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # --- artifacts ---------------------------------------------------------------------------
    def put_artifact(self, path: Path, suffix: str = ".npz", *, move: bool = False) -> str:
        """Copy (or move) a file into the artifact folder under its sha256; returns the sha."""
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        sha = h.hexdigest()
        target = self.artifact_path(sha, suffix)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            if move:
                shutil.move(str(path), tmp)
            else:
                shutil.copyfile(path, tmp)
            tmp.replace(target)
        return sha

    def artifact_path(self, sha: str, suffix: str = ".npz") -> Path:
        return self.root / "artifacts" / sha[:2] / f"{sha}{suffix}"

    # --- runs and environments -----------------------------------------------------------------
    def begin_run(self, name: str, command: str, spec: dict[str, Any]) -> int:
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO runs (name, started, command, spec) VALUES (?, ?, ?, ?)",
                (name, _now(), command, json.dumps(spec, default=str)),
            )
            return int(cur.lastrowid or 0)

    def end_run(self, run_id: int) -> None:
        with self._tx() as c:
            c.execute("UPDATE runs SET finished=? WHERE id=?", (_now(), run_id))

    def runs(self) -> list[dict[str, Any]]:
        """Every recorded run, oldest first: id, name, started, finished, command, spec (dict)."""
        rows = self.conn.execute(
            "SELECT id, name, started, finished, command, spec FROM runs ORDER BY id"
        )
        names = [d[0] for d in rows.description]
        out = [dict(zip(names, r, strict=True)) for r in rows.fetchall()]
        for run in out:
            run["spec"] = json.loads(run["spec"] or "null") or {}
        return out

    def put_env(self, name: str, versions: dict[str, str], lock: list[str], request: dict) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO envs VALUES (?, ?, ?, ?)",
                (name, json.dumps(versions), json.dumps(lock), json.dumps(request)),
            )

    # --- results -------------------------------------------------------------------------------
    def finished(self, cell_ids: Iterable[str], statuses: tuple[str, ...] = DONE) -> set[str]:
        ids = list(cell_ids)
        found: set[str] = set()
        marks = ",".join("?" * len(statuses))
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            rows = self.conn.execute(
                f"SELECT DISTINCT cell_id FROM results WHERE cell_id IN "
                f"({','.join('?' * len(chunk))}) AND status IN ({marks})",
                (*chunk, *statuses),
            )
            found.update(r[0] for r in rows)
        return found

    def record(self, row: dict[str, Any], losses: list[float]) -> int:
        """Insert one cell result and its per-step losses in a single transaction."""
        cols = [
            "cell_id",
            "run_id",
            "experiment",
            "tf_version",
            "python_version",
            "keras_version",
            "numpy_version",
            "keras_pin",
            "seed",
            "knobs",
            "env_vars",
            "env_name",
            "status",
            "reason",
            "traceback",
            "data_sha256",
            "init_weights_sha256",
            "final_weights_sha256",
            "metrics",
            "epoch_metrics",
            "timings",
            "fingerprint",
            "knobs_applied",
            "optimizer_class",
            "logs",
            "arrays",
            "peak_memory_mb",
            "wall_seconds",
        ]
        json_cols = {
            "knobs",
            "env_vars",
            "metrics",
            "epoch_metrics",
            "timings",
            "fingerprint",
            "knobs_applied",
            "logs",
        }
        values = [json.dumps(row.get(c)) if c in json_cols else row.get(c) for c in cols]
        with self._tx() as c:
            (attempt,) = c.execute(
                "SELECT COALESCE(MAX(attempt), 0) + 1 FROM results WHERE cell_id=?",
                (row["cell_id"],),
            ).fetchone()
            cur = c.execute(
                f"INSERT INTO results ({', '.join(cols)}, attempt, finished) "
                f"VALUES ({', '.join('?' * len(cols))}, ?, ?)",
                (*values, attempt, _now()),
            )
            rid = int(cur.lastrowid or 0)
            c.executemany(
                "INSERT INTO steps VALUES (?, ?, ?)",
                ((rid, i, _finite(v)) for i, v in enumerate(losses)),
            )
        return rid

    def cells(self, *, all_attempts: bool = False, with_loss: bool = True) -> list[dict[str, Any]]:
        """One dict per cell: its latest attempt (or every attempt); the `cells --json` contract."""
        where = (
            ""
            if all_attempts
            else (
                "WHERE r.attempt = "
                "(SELECT MAX(attempt) FROM results r2 WHERE r2.cell_id = r.cell_id)"
            )
        )
        rows = self.conn.execute(
            f"SELECT r.*, e.lock AS env_lock FROM results r LEFT JOIN envs e "
            f"ON e.name = r.env_name {where} ORDER BY r.id"
        )
        names = [d[0] for d in rows.description]
        out = []
        for values in rows.fetchall():
            r = dict(zip(names, values, strict=True))
            fingerprint = json.loads(r["fingerprint"] or "null") or {}
            fingerprint["packages"] = json.loads(r["env_lock"] or "[]")
            fingerprint["environment"] = r["env_name"]
            cell = {
                "id": r["cell_id"],
                "attempt": r["attempt"],
                "run_id": r["run_id"],
                "experiment": r["experiment"],
                "tf_version": r["tf_version"],
                "keras_version": r["keras_version"],
                "numpy_version": r["numpy_version"],
                "python_version": r["python_version"],
                "keras_pin": r["keras_pin"],
                "seed": r["seed"],
                "knobs": json.loads(r["knobs"]),
                "env_vars": dict(json.loads(r["env_vars"])),
                "status": r["status"],
                "reason": r["reason"],
                "traceback": r["traceback"],
                "data_sha256": r["data_sha256"],
                "init_weights_sha256": r["init_weights_sha256"],
                "final_weights_sha256": r["final_weights_sha256"],
                "metrics": json.loads(r["metrics"] or "null") or {},
                "epoch_metrics": json.loads(r["epoch_metrics"] or "null") or [],
                "timings": json.loads(r["timings"] or "null") or {},
                "knobs_applied": json.loads(r["knobs_applied"] or "null") or {},
                "optimizer_class": r["optimizer_class"],
                "logs": json.loads(r["logs"] or "null") or {},
                "peak_memory_mb": r["peak_memory_mb"],
                "wall_seconds": r["wall_seconds"],
                "arrays": str(self.artifact_path(r["arrays"])) if r["arrays"] else None,
                "fingerprint": fingerprint,
                "finished": r["finished"],
                "_result_id": r["id"],
            }
            out.append(cell)
        if with_loss:
            self._attach_losses(out)
        for cell in out:
            cell.pop("_result_id")
        return out

    def _attach_losses(self, cells: list[dict[str, Any]]) -> None:
        by_id = {c["_result_id"]: c for c in cells}
        for c in cells:
            c["loss"] = []
        for rid, loss in self.conn.execute(
            "SELECT result_id, loss FROM steps ORDER BY result_id, step"
        ):
            cell = by_id.get(rid)
            if cell is not None:
                cell["loss"].append(loss)

    # --- explanations ----------------------------------------------------------------------
    def put_explanation(self, result: dict[str, Any]) -> int:
        """Keep one `tfrepro explain` result (its dict, inf and nan as strings); returns its id."""
        text = json.dumps(_encode(result), default=str, allow_nan=False)
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO explanations (created, a, b, seed, result) VALUES (?, ?, ?, ?, ?)",
                (_now(), result["a"], result["b"], int(result["seed"]), text),
            )
            return int(cur.lastrowid or 0)

    def explanations(self) -> list[dict[str, Any]]:
        """The latest explanation per (a, b, seed), newest first, each with `id` and `created`."""
        rows = self.conn.execute(
            "SELECT id, created, result FROM explanations e WHERE id = "
            "(SELECT MAX(id) FROM explanations e2 WHERE e2.a = e.a AND e2.b = e.b "
            "AND e2.seed = e.seed) ORDER BY id DESC"
        ).fetchall()
        return [
            {**_decode(json.loads(text)), "id": rid, "created": created}
            for rid, created, text in rows
        ]
