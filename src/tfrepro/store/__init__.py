"""The result store: SQLite (WAL) plus a content-addressed artifact folder.

Every cell result is written in one transaction, after its arrays were moved into the
artifact folder with an atomic rename, so a killed run loses at most the cells in flight
and never leaves a half-written row. Reruns of a cell are kept as further attempts.

One class, `Store`, made of its parts: connection.py opens it (lock file, WAL, busy retries,
schema and migration, damage); artifacts.py, cells.py (runs, envs, results), claims.py and
explanations.py each own their tables. Only tasks open a store.
"""

from __future__ import annotations

from tfrepro.errors import StoreError
from tfrepro.store.cells import Cells
from tfrepro.store.claims import Claims
from tfrepro.store.connection import SCHEMA_VERSION, _is_damage
from tfrepro.store.explanations import Explanations

__all__ = ["SCHEMA_VERSION", "Store", "StoreError", "_is_damage"]


class Store(Cells, Claims, Explanations):
    """Store(root, create=True): open (or make) the store in folder `root`; create=False reads
    an existing one and never writes it."""
