"""kill -9 in the middle of a matrix: finished cells survive, nothing is duplicated, and the
next run does only what is missing."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .helpers import cells, ok, tfrepro

pytestmark = pytest.mark.integration


def _finished(store: Path) -> int:
    db = store / "tfrepro.sqlite"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_kill_mid_matrix_then_resume(tmp_path: Path, env_cache: Path) -> None:
    store = tmp_path / "st"
    args = ["run", "--tf", "1.15", "--seeds", "0..5", "--epochs", "1", "--store", str(store)]
    # build the environment first, so the kill lands while cells are running
    ok(tfrepro("envs", "build", "--tf", "1.15", cwd=tmp_path, cache=env_cache))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tfrepro", *args],
        cwd=tmp_path,
        start_new_session=True,
        env={**os.environ, "TFREPRO_CACHE": str(env_cache)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while _finished(store) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the host and the cell in flight
    proc.wait()
    survived = _finished(store)
    assert 2 <= survived < 6, "the kill should land mid-matrix"

    done = ok(tfrepro(*args, cwd=tmp_path, cache=env_cache))
    assert f"{survived} already in the store" in done.stdout
    recorded = cells(store, tmp_path, env_cache, all_attempts=True)
    assert len(recorded) == 6, "every cell exactly once: nothing lost, nothing duplicated"
    assert sorted(c["seed"] for c in recorded) == list(range(6))
    assert {c["status"] for c in recorded} == {"ok"}
    assert not any((store / "work").iterdir()) if (store / "work").exists() else True
