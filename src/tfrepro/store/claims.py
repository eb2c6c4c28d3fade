"""Claims: two runs on one store never run the same cell at once. A claim is a lease that its
owner renews (a heartbeat) and releases when the cell is done."""

from __future__ import annotations

import os
import socket
import time

from tfrepro import process
from tfrepro.store.connection import Connection


class Claims(Connection):
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
