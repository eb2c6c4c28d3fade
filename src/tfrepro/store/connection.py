"""Opening a store: the lock file, WAL, retries while another process holds it busy, the
schema and its migration, damage detection; and the one write transaction every part uses."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

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


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


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


def read_uri(db: Path) -> str | None:
    """How a read opens the store file `db`: None (as it is) where tfrepro may write in its
    folder, since sqlite keeps a WAL store's -shm and -wal files next to it; else a read-only
    URI that creates, locks and writes nothing. Immutable while no -wal file holds writes not
    yet merged (nobody can add any to a folder that cannot be written), or read-only through
    the -wal and -shm files a killed writer left."""
    if os.access(db.parent, os.W_OK) and os.access(db, os.W_OK):
        return None
    return f"{db.as_uri()}?mode=ro" + ("" if _unmerged_wal(db) else "&immutable=1")


def _unmerged_wal(db: Path) -> bool:
    wal = db.with_name(db.name + "-wal")
    return wal.exists() and wal.stat().st_size > 0


def _is_damage(exc: sqlite3.Error) -> bool:
    """sqlite's corruption codes only: 'database is locked' and the like are not damage."""
    name = getattr(exc, "sqlite_errorname", None)
    if name is not None:
        return name in _CORRUPT
    return type(exc) is sqlite3.DatabaseError  # our own quick_check verdict, or no code


class Connection:
    """The open store every other part of Store works through: `root`, `conn` and `_tx`."""

    root: Path
    conn: sqlite3.Connection

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
            if not create and read_uri(db) is not None and _unmerged_wal(db):
                raise StoreError(
                    f"cannot read the store at '{self.root}' ({exc}): its folder cannot be "
                    f"written and sqlite needs to write beside it (a run that was killed left "
                    f"{db.name}-wal); copy the folder somewhere writable and pass the copy as "
                    f"--store"
                ) from None
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
                uri = None if create else read_uri(db)
                conn = sqlite3.connect(
                    uri or db, timeout=_BUSY_WAIT_S, isolation_level=None, uri=uri is not None
                )
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

    def __enter__(self) -> Self:
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
