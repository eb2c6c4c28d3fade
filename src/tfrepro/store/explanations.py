"""`tfrepro explain` results, kept as JSON (strict: non-finite floats as strings)."""

from __future__ import annotations

import json
import math
import sqlite3
from typing import Any

from tfrepro.store.connection import Connection, now

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


class Explanations(Connection):
    def put_explanation(self, result: dict[str, Any]) -> int:
        """Keep one `tfrepro explain` result (its dict, inf and nan as strings); returns its id."""
        text = json.dumps(_encode(result), default=str, allow_nan=False)
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO explanations (created, a, b, seed, result) VALUES (?, ?, ?, ?, ?)",
                (now(), result["a"], result["b"], int(result["seed"]), text),
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
