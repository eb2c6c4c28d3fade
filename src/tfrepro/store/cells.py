"""Runs, environments and cell results: every result with its per-step losses in one
transaction, reruns kept as further attempts, read back as typed cell records."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any, cast

from tfrepro.record import (
    FINISHED,
    JSON_FIELDS,
    RECORD_FIELDS,
    RESULT_FIELDS,
    CellRecord,
    CellResult,
)
from tfrepro.store.artifacts import Artifacts
from tfrepro.store.connection import now

# Fields a reader gets as an empty container rather than None when nothing was recorded.
_EMPTY: dict[str, Any] = {
    "metrics": {},
    "epoch_metrics": [],
    "timings": {},
    "knobs_applied": {},
    "logs": {},
    "fingerprint": {},
}


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


class Cells(Artifacts):
    # --- runs and environments -----------------------------------------------------------------
    def begin_run(self, name: str, command: str, spec: dict[str, Any]) -> int:
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO runs (name, started, command, spec) VALUES (?, ?, ?, ?)",
                (name, now(), command, json.dumps(spec, default=str)),
            )
            return int(cur.lastrowid or 0)

    def end_run(self, run_id: int) -> None:
        with self._tx() as c:
            c.execute("UPDATE runs SET finished=? WHERE id=?", (now(), run_id))

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
                (*values, attempt, now()),
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
