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
import socket
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import numpy as np

from tfrepro import files, process
from tfrepro.errors import StoreError
from tfrepro.record import (
    FINISHED,
    JSON_FIELDS,
    RECORD_FIELDS,
    RESULT_FIELDS,
    CellRecord,
    CellResult,
)

# Fields a reader gets as an empty container rather than None when nothing was recorded.
_EMPTY: dict[str, Any] = {
    "metrics": {},
    "epoch_metrics": [],
    "timings": {},
    "knobs_applied": {},
    "logs": {},
    "fingerprint": {},
}

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
    script TEXT, worker TEXT, finished TEXT NOT NULL,
    UNIQUE (cell_id, attempt)
);
CREATE TABLE IF NOT EXISTS steps (
    result_id INTEGER NOT NULL REFERENCES results(id), step INTEGER NOT NULL, loss REAL,
    PRIMARY KEY (result_id, step)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS results_cell ON results (cell_id);
CREATE TABLE IF NOT EXISTS claims (
    cell_id TEXT PRIMARY KEY, owner TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS explanations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT, a TEXT, b TEXT, seed INTEGER, result TEXT
);
"""


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


def _damaged(db: Path, exc: sqlite3.Error) -> str:
    return (
        f"the store '{db}' is damaged (sqlite: {exc}): pass another --store, restore the file "
        f"from a copy, or recover what is left with `sqlite3 {db.name} .recover | sqlite3 "
        f"recovered.sqlite`"
    )


_CORRUPT = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}
_BUSY_WAIT_S = 60  # how long an open waits for another process that holds the store busy


@contextmanager
def _opening(root: Path, *, create: bool) -> Iterator[None]:
    """Hold the store's lock file while a connection is set up, so that two tfrepro processes
    opening one store at the same moment (two runs started together) never see each other's
    half-made schema. A read does not create the lock file (a read never writes)."""
    lock = root / ".tfrepro-lock"
    if not create and not lock.exists():
        yield
        return
    try:
        import fcntl
    except ImportError:  # not POSIX: SQLite's own locking still applies
        yield
        return
    with open(lock, "a" if create else "r") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _is_damage(exc: sqlite3.Error) -> bool:
    """sqlite's corruption codes only: 'database is locked' and the like are not damage."""
    name = getattr(exc, "sqlite_errorname", None)
    if name is not None:
        return name in _CORRUPT
    return type(exc) is sqlite3.DatabaseError  # our own quick_check verdict, or no code


class Store:
    def __init__(self, root: Path, *, create: bool = True) -> None:
        self.root = Path(root).resolve()
        db = self.root / "tfrepro.sqlite"
        if not db.exists() and not create:
            raise StoreError(
                f"no tfrepro store at '{self.root}': run `tfrepro run` first or pass --store DIR"
            )
        if not create and db.stat().st_size == 0:
            raise StoreError(
                f"the store file '{db}' is empty (0 bytes): restore it from a copy or pass "
                f"another --store (nothing was changed)"
            )
        try:
            if create:
                self.root.mkdir(parents=True, exist_ok=True)
                (self.root / "artifacts").mkdir(exist_ok=True)
            with _opening(self.root, create=create):
                row = self._connect(db, create)
        except sqlite3.Error as exc:
            if _is_damage(exc):
                raise StoreError(_damaged(db, exc)) from None
            raise StoreError(f"cannot open the store at '{self.root}': {exc}") from None
        except OSError as exc:
            raise StoreError(f"cannot open the store at '{self.root}': {exc}") from None
        if row is None and not create:
            raise StoreError(f"'{db}' is not a tfrepro store (no schema): pass another --store")
        if row[0] != SCHEMA_VERSION:
            raise StoreError(
                f"store '{self.root}' has schema {row[0]}, this tfrepro reads {SCHEMA_VERSION}: "
                f"use a new --store folder"
            )

    def _connect(self, db: Path, create: bool) -> Any:
        """Connect (retrying while another process holds the file busy); the schema row."""
        deadline = time.monotonic() + _BUSY_WAIT_S
        while True:
            conn = None
            try:
                conn = sqlite3.connect(db, timeout=_BUSY_WAIT_S, isolation_level=None)
                if create:
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("PRAGMA synchronous=NORMAL")
                    conn.executescript(_SCHEMA)
                else:  # a read: the store must be whole, and is never written ("repaired")
                    check = conn.execute("PRAGMA quick_check").fetchone()
                    if check and check[0] != "ok":
                        raise sqlite3.DatabaseError(
                            f"database disk image is malformed ({check[0]})"
                        )
                row = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                if create and row is None:
                    conn.execute(
                        "INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,)
                    )
                    row = (SCHEMA_VERSION,)
                self.conn = conn
                if create and row[0] == SCHEMA_VERSION:
                    self._add_columns()  # a read of an older store reads them as None
                return row
            except sqlite3.Error as exc:
                if conn is not None:
                    conn.close()
                code = getattr(exc, "sqlite_errorname", "")
                busy = code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))
                if not busy or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def _add_columns(self) -> None:
        """Columns added since schema 2 was written (nullable, so older rows read as None):
        a store from an earlier tfrepro gains them on first open."""
        have = {r[1] for r in self.conn.execute("PRAGMA table_info(results)")}
        for name in ("script", "worker"):
            if name not in have:
                try:
                    self.conn.execute(f"ALTER TABLE results ADD COLUMN {name} TEXT")
                except sqlite3.Error as exc:
                    raise StoreError(
                        f"cannot upgrade the store at '{self.root}' ({exc}); use a new --store"
                    ) from None

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
    def finished(self, cell_ids: Iterable[str], statuses: Iterable[str] = FINISHED) -> set[str]:
        ids = list(cell_ids)
        statuses = tuple(statuses)
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

    # --- claims: two runs on one store never run the same cell at once ------------------
    def claim(self, cell_id: str, owner: str, lease: float) -> bool:
        """Claim a cell for `owner` for `lease` seconds; False while another owner holds it.
        A claim whose lease ran out, or whose owner process on this host is gone (killed), is
        taken over."""
        now, host = time.time(), socket.gethostname()
        with self._tx() as c:
            row = c.execute(
                "SELECT owner, pid, host, expires FROM claims WHERE cell_id=?", (cell_id,)
            ).fetchone()
            held = row is not None and row[0] != owner and row[3] > now
            if held and (row[2] != host or process.alive(int(row[1]))):
                return False
            c.execute(
                "INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?)",
                (cell_id, owner, os.getpid(), host, now + lease),
            )
        return True

    def renew(self, owner: str, lease: float) -> None:
        """Extend every claim of `owner` by `lease` seconds from now (its heartbeat)."""
        with self._tx() as c:
            c.execute("UPDATE claims SET expires=? WHERE owner=?", (time.time() + lease, owner))

    def release(self, owner: str, cell_id: str | None = None) -> None:
        """Drop `owner`'s claim on one cell, or all of its claims."""
        with self._tx() as c:
            if cell_id is None:
                c.execute("DELETE FROM claims WHERE owner=?", (owner,))
            else:
                c.execute("DELETE FROM claims WHERE owner=? AND cell_id=?", (owner, cell_id))

    def record(self, row: CellResult, losses: list[float]) -> int:
        """Insert one cell result and its per-step losses in a single transaction."""
        cols = RESULT_FIELDS
        values = [json.dumps(row.get(c)) if c in JSON_FIELDS else row.get(c) for c in cols]
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

    def cells(self, *, all_attempts: bool = False, with_loss: bool = True) -> list[CellRecord]:
        """One record per cell: its latest attempt (or every attempt); the `cells --json`
        contract."""
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
        out: list[CellRecord] = []
        result_ids: list[int] = []
        for values in rows.fetchall():
            out.append(self._read(dict(zip(names, values, strict=True))))
            result_ids.append(values[names.index("id")])
        if with_loss:
            self._attach_losses(out, result_ids)
        return out

    def _read(self, r: dict[str, Any]) -> CellRecord:
        """A `results` row (joined with its env's lock) as a CellRecord, field by field."""
        out: dict[str, Any] = {}
        for key in RECORD_FIELDS:
            value = r.get("cell_id" if key == "id" else key)  # None: a column added later
            if key in JSON_FIELDS:
                value = json.loads(value) if value else None
            out[key] = value if value is not None or key not in _EMPTY else type(_EMPTY[key])()
        out["env_vars"] = dict(out["env_vars"] or [])
        out["arrays"] = str(self.artifact_path(r["arrays"])) if r["arrays"] else None
        out["fingerprint"]["packages"] = json.loads(r["env_lock"] or "[]")
        out["fingerprint"]["environment"] = r["env_name"]
        return cast(CellRecord, out)

    def _attach_losses(self, cells: list[CellRecord], result_ids: list[int]) -> None:
        by_id: dict[int, list[float | None]] = {}
        for cell, rid in zip(cells, result_ids, strict=True):
            cell["loss"] = by_id[rid] = []
        for rid, loss in self.conn.execute(
            "SELECT result_id, loss FROM steps ORDER BY result_id, step"
        ):
            losses = by_id.get(rid)
            if losses is not None:
                losses.append(loss)

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
        """The latest explanation per (a, b, seed), newest first, each with `id` and `created`
        (none from a store an older tfrepro wrote, read without adding the table)."""
        try:
            rows = self.conn.execute(
                "SELECT id, created, result FROM explanations e WHERE id = "
                "(SELECT MAX(id) FROM explanations e2 WHERE e2.a = e.a AND e2.b = e.b "
                "AND e2.seed = e.seed) ORDER BY id DESC"
            ).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            return []
        return [
            {**_decode(json.loads(text)), "id": rid, "created": created}
            for rid, created, text in rows
        ]
