"""tfrepro.store: results, attempts, losses and artifacts survive a round trip."""

from __future__ import annotations

import json
import math
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tfrepro.errors import StoreError
from tfrepro.record import FINISHED
from tfrepro.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "store")
    yield s
    s.close()


def row(cell_id: str, run_id: int, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "cell_id": cell_id,
        "run_id": run_id,
        "experiment": "exp1",
        "tf_version": "2.16.2",
        "python_version": "3.11.7",
        "keras_version": "3.3.3",
        "numpy_version": "1.26.4",
        "keras_pin": None,
        "seed": 1,
        "knobs": {"threads": 1, "determinism": True},
        "env_vars": [["OMP_NUM_THREADS", "2"]],
        "env_name": "tf2.16.2-py3.11-era-abc",
        "status": "ok",
        "reason": "",
        "traceback": None,
        "data_sha256": "d" * 64,
        "init_weights_sha256": "i" * 64,
        "final_weights_sha256": "f" * 64,
        "metrics": {"accuracy": 0.9, "loss": 0.3},
        "epoch_metrics": [{"loss": 0.5}, {"loss": 0.3}],
        "timings": {"import": 1.5},
        "fingerprint": {"cpu": "x86"},
        "knobs_applied": {"threads": 1},
        "optimizer_class": "Adam",
        "arrays": None,
        "peak_memory_mb": 512.0,
        "wall_seconds": 3.25,
    }
    base.update(extra)
    return base


def test_record_and_read_back_a_cell(store: Store) -> None:
    run = store.begin_run("exp", "tfrepro run x.toml", {"name": "exp"})
    store.put_env("tf2.16.2-py3.11-era-abc", {"tensorflow": "2.16.2"}, ["numpy==1.26.4"], {})
    store.record(row("c1", run), [0.9, 0.5, 0.25])
    store.end_run(run)
    assert store.conn.execute(
        "SELECT finished IS NOT NULL FROM runs WHERE id=?", (run,)
    ).fetchone() == (1,)
    (cell,) = store.cells()
    assert cell["id"] == "c1" and cell["attempt"] == 1 and cell["run_id"] == run
    assert cell["status"] == "ok"
    assert cell["knobs"] == {"threads": 1, "determinism": True}
    assert cell["env_vars"] == {"OMP_NUM_THREADS": "2"}
    assert cell["metrics"] == {"accuracy": 0.9, "loss": 0.3}
    assert cell["epoch_metrics"] == [{"loss": 0.5}, {"loss": 0.3}]
    assert cell["loss"] == [0.9, 0.5, 0.25]
    assert cell["peak_memory_mb"] == 512.0
    assert cell["timings"] == {"import": 1.5} and cell["optimizer_class"] == "Adam"
    assert cell["final_weights_sha256"] == "f" * 64
    assert cell["fingerprint"]["cpu"] == "x86"
    assert cell["fingerprint"]["packages"] == ["numpy==1.26.4"]
    assert cell["fingerprint"]["environment"] == "tf2.16.2-py3.11-era-abc"
    assert cell["arrays"] is None


def test_nan_and_inf_losses_are_stored_as_null(store: Store) -> None:
    run = store.begin_run("exp", "cmd", {})
    store.record(row("c1", run, status="diverged"), [1.0, math.nan, math.inf, -math.inf])
    (cell,) = store.cells()
    assert cell["loss"] == [1.0, None, None, None]
    assert cell["status"] == "diverged"


def test_rerunning_a_cell_adds_attempts(store: Store) -> None:
    run1 = store.begin_run("exp", "cmd", {})
    store.record(row("c1", run1, status="failed", reason="boom", traceback="Traceback ..."), [])
    store.record(row("c2", run1), [0.1])
    run2 = store.begin_run("exp", "cmd", {})
    store.record(row("c1", run2), [0.4, 0.2])
    latest = {c["id"]: c for c in store.cells()}
    assert set(latest) == {"c1", "c2"}
    assert latest["c1"]["attempt"] == 2 and latest["c1"]["status"] == "ok"
    assert latest["c1"]["run_id"] == run2
    assert latest["c1"]["loss"] == [0.4, 0.2]
    every = store.cells(all_attempts=True)
    assert [(c["id"], c["attempt"], c["status"]) for c in every] == [
        ("c1", 1, "failed"),
        ("c2", 1, "ok"),
        ("c1", 2, "ok"),
    ]
    assert every[0]["reason"] == "boom" and every[0]["traceback"] == "Traceback ..."
    assert every[0]["loss"] == []


def test_cells_without_losses(store: Store) -> None:
    store.record(row("c1", store.begin_run("e", "c", {})), [0.5])
    (cell,) = store.cells(with_loss=False)
    assert "loss" not in cell and "_result_id" not in cell


def test_finished_filters_by_status(store: Store) -> None:
    run = store.begin_run("exp", "cmd", {})
    for cid, status in (("a", "ok"), ("b", "failed"), ("c", "timeout"), ("d", "diverged")):
        store.record(row(cid, run, status=status), [])
    assert store.finished(["a", "b", "c", "d", "e"]) == {"a", "b", "c", "d"}
    assert store.finished(["a", "b", "c", "d"], ("ok", "diverged")) == {"a", "d"}
    assert store.finished([]) == set()
    assert set(FINISHED) == {"ok", "diverged", "failed", "timeout"}


def test_finished_handles_more_ids_than_one_query_takes(store: Store) -> None:
    run = store.begin_run("exp", "cmd", {})
    store.record(row("cell-1234", run), [])
    ids = [f"cell-{i}" for i in range(2000)]
    assert store.finished(ids) == {"cell-1234"}


def test_store_reopens_with_its_data(tmp_path: Path) -> None:
    s = Store(tmp_path / "st")
    s.record(row("c1", s.begin_run("e", "c", {})), [1.0])
    s.close()
    again = Store(tmp_path / "st", create=False)
    assert [c["id"] for c in again.cells()] == ["c1"]
    again.close()


def test_artifacts_are_content_addressed(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "a.npz"
    src.write_bytes(b"payload")
    sha = store.put_artifact(src)
    assert src.exists()  # copied, not moved
    target = store.artifact_path(sha)
    assert target.read_bytes() == b"payload"
    assert target.parent.name == sha[:2]
    same = tmp_path / "b.npz"
    same.write_bytes(b"payload")
    assert store.put_artifact(same, move=True) == sha
    moved = tmp_path / "c.npz"
    moved.write_bytes(b"other")
    sha2 = store.put_artifact(moved, move=True)
    assert sha2 != sha and not moved.exists()
    assert store.artifact_path(sha2).read_bytes() == b"other"
    assert not list(target.parent.glob(".*.tmp"))


def test_arrays_column_becomes_the_artifact_path(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "arr.npz"
    src.write_bytes(b"arrays")
    sha = store.put_artifact(src)
    store.record(row("c1", store.begin_run("e", "c", {}), arrays=sha), [])
    (cell,) = store.cells()
    assert Path(cell["arrays"]) == store.artifact_path(sha)


def test_missing_store_is_an_error_when_not_creating(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreError, match=r"no tfrepro store at .*empty.*--store"):
        Store(tmp_path / "empty", create=False)
    assert list((tmp_path / "empty").iterdir()) == []  # nothing was created


def test_other_schema_is_refused(tmp_path: Path) -> None:
    Store(tmp_path / "st").close()
    conn = sqlite3.connect(tmp_path / "st" / "tfrepro.sqlite")
    conn.execute("UPDATE meta SET value='99' WHERE key='schema'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="schema 99"):
        Store(tmp_path / "st")


def test_corrupt_database_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "st").mkdir()
    (tmp_path / "st" / "tfrepro.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="is damaged"):
        Store(tmp_path / "st", create=False)


def test_a_failed_transaction_leaves_nothing_behind(store: Store) -> None:
    run = store.begin_run("e", "c", {})
    store.record(row("c1", run), [0.1])
    with pytest.raises((sqlite3.IntegrityError, StoreError)):
        store.record(row("c2", run, seed=None), [0.1, 0.2])  # seed is NOT NULL
    assert [c["id"] for c in store.cells(all_attempts=True)] == ["c1"]
    assert store.conn.execute("SELECT COUNT(*) FROM steps").fetchone() == (1,)


def test_runs_come_back_with_their_spec(store: Store) -> None:
    first = store.begin_run("exp <b>", "tfrepro run a.toml", {"name": "exp <b>", "margin": 0.01})
    store.end_run(first)
    second = store.begin_run("exp <b>", "tfrepro run a.toml --rerun", {"name": "exp <b>"})
    runs = store.runs()
    assert [r["id"] for r in runs] == [first, second]
    assert runs[0]["name"] == "exp <b>" and runs[0]["spec"]["margin"] == 0.01
    assert runs[0]["finished"] is not None and runs[1]["finished"] is None
    assert runs[1]["command"] == "tfrepro run a.toml --rerun"


def test_explanations_round_trip_with_inf_as_strict_json(store: Store) -> None:
    result = {
        "a": "2.9",
        "b": "tf=2.15,onednn=off",
        "seed": 3,
        "stages": {
            "forward": {"max_abs": math.inf, "tolerance": 0.0, "where": "dense"},
            "loss": {"max_abs": -math.inf, "a": math.nan},
        },
        "ablations": [{"knob": "threads", "value": 0, "gap_before": math.inf}],
        "causes": [{"cause": "x → y <b>", "stage": "forward", "evidence": {"pair": (1, 2)}}],
    }
    rid = store.put_explanation(result)
    (text,) = store.conn.execute("SELECT result FROM explanations WHERE id=?", (rid,)).fetchone()

    def no_constants(name: str) -> None:
        raise AssertionError(f"not strict JSON: {name}")

    json.loads(text, parse_constant=no_constants)  # no Infinity / NaN tokens
    (back,) = store.explanations()
    assert back["id"] == rid and back["created"].endswith("Z")
    assert back["stages"]["forward"] == {"max_abs": math.inf, "tolerance": 0.0, "where": "dense"}
    assert back["stages"]["loss"]["max_abs"] == -math.inf
    assert math.isnan(back["stages"]["loss"]["a"])
    assert back["ablations"] == [{"knob": "threads", "value": 0, "gap_before": math.inf}]
    assert back["causes"][0] == {
        "cause": "x → y <b>",
        "stage": "forward",
        "evidence": {"pair": [1, 2]},
    }
    assert (back["a"], back["b"], back["seed"]) == ("2.9", "tf=2.15,onednn=off", 3)


def test_explanations_keep_the_latest_per_pair_and_seed_newest_first(store: Store) -> None:
    first = store.put_explanation({"a": "2.9", "b": "2.15", "seed": 0, "n": 1})
    other_seed = store.put_explanation({"a": "2.9", "b": "2.15", "seed": 1, "n": 2})
    again = store.put_explanation({"a": "2.9", "b": "2.15", "seed": 0, "n": 3})
    swapped = store.put_explanation({"a": "2.15", "b": "2.9", "seed": 0, "n": 4})
    got = store.explanations()
    assert [(e["id"], e["n"]) for e in got] == [(swapped, 4), (again, 3), (other_seed, 2)]
    assert first not in [e["id"] for e in got]
    assert store.conn.execute("SELECT COUNT(*) FROM explanations").fetchone() == (4,)


def test_a_store_from_before_explanations_gets_the_table(tmp_path: Path) -> None:
    Store(tmp_path / "st").close()
    conn = sqlite3.connect(tmp_path / "st" / "tfrepro.sqlite")
    conn.execute("DROP TABLE explanations")  # as a store written by an older tfrepro
    conn.commit()
    conn.close()
    s = Store(tmp_path / "st", create=False)  # a read: the store is left as it is
    assert s.explanations() == []
    s.close()
    conn = sqlite3.connect(tmp_path / "st" / "tfrepro.sqlite")
    assert not conn.execute("SELECT name FROM sqlite_master WHERE name='explanations'").fetchall()
    conn.close()
    s = Store(tmp_path / "st")  # a write (explain keeps its result) adds the table
    s.put_explanation({"a": "2.9", "b": "2.15", "seed": 0})
    assert [e["a"] for e in s.explanations()] == ["2.9"]
    s.close()


def test_a_claimed_cell_is_refused_to_a_second_owner_until_released(tmp_path: Path) -> None:
    one, two = Store(tmp_path / "st"), Store(tmp_path / "st")  # two runs, one store
    assert one.claim("cell-a", "host:1:1", lease=60)
    assert one.claim("cell-a", "host:1:1", lease=60)  # its own claim again: still its
    assert not two.claim("cell-a", "host:2:2", lease=60)
    assert two.claim("cell-b", "host:2:2", lease=60)  # other cells are free
    one.release("host:1:1", "cell-a")
    assert two.claim("cell-a", "host:2:2", lease=60)
    two.release("host:2:2")  # all of its claims
    assert one.claim("cell-a", "host:1:1", lease=60) and one.claim("cell-b", "host:1:1", 60)
    one.close(), two.close()


def test_an_expired_claim_is_taken_over_and_renewal_keeps_it(tmp_path: Path) -> None:
    one, two = Store(tmp_path / "st"), Store(tmp_path / "st")
    assert one.claim("cell-a", "owner-1", lease=0.2)
    one.renew("owner-1", lease=60)  # the heartbeat
    time.sleep(0.3)
    assert not two.claim("cell-a", "owner-2", lease=60)
    assert one.claim("cell-c", "owner-1", lease=0.05)
    time.sleep(0.1)
    assert two.claim("cell-c", "owner-2", lease=60)  # its lease ran out
    one.close(), two.close()


def test_a_claim_of_a_dead_process_on_this_host_is_taken_over_at_once(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    pid = int(dead.stdout)
    store = Store(tmp_path / "st")
    store.conn.execute(
        "INSERT INTO claims VALUES (?, ?, ?, ?, ?)",
        ("cell-a", f"{socket.gethostname()}:{pid}:1", pid, socket.gethostname(), time.time() + 60),
    )
    assert store.claim("cell-a", "me", lease=60)
    # a live owner on another host keeps its claim for the whole lease
    store.conn.execute(
        "INSERT INTO claims VALUES (?, ?, ?, ?, ?)",
        ("cell-b", "elsewhere:1:1", os.getpid(), "another-host", time.time() + 60),
    )
    assert not store.claim("cell-b", "me", lease=60)
    store.close()


def _open_together(root: str, barrier: Any, answers: Any) -> None:
    barrier.wait()
    try:
        with Store(Path(root)) as s:
            answers.put(str(s.conn.execute("SELECT count(*) FROM meta").fetchone()[0]))
    except StoreError as exc:
        answers.put(f"error: {exc}")


def test_runs_opening_one_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    """Runs started together opening one new store: SQLite answers 'database is locked' to
    the switch to WAL without waiting, which was reported as a damaged store (about 1 open in
    35 here, before the open was serialised)."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    got = []
    for i in range(40):
        barrier, answers = ctx.Barrier(4), ctx.Queue()
        procs = [
            ctx.Process(target=_open_together, args=(str(tmp_path / f"s{i}"), barrier, answers))
            for _ in range(4)
        ]
        for p in procs:
            p.start()
        got += [answers.get(timeout=60) for _ in procs]
        for p in procs:
            p.join()
    assert got == ["1"] * 160


def test_a_locked_store_is_not_called_damaged(tmp_path: Path) -> None:
    from tfrepro.store import _is_damage

    db = tmp_path / "x.sqlite"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    other = sqlite3.connect(db, timeout=0)
    with pytest.raises(sqlite3.OperationalError) as locked:
        other.execute("SELECT * FROM t").fetchall()
    assert not _is_damage(locked.value)
    holder.execute("ROLLBACK")
    (tmp_path / "garbage.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(sqlite3.DatabaseError) as garbage:
        sqlite3.connect(tmp_path / "garbage.sqlite").execute(
            "SELECT 1 FROM sqlite_master"
        ).fetchall()
    assert _is_damage(garbage.value)


def test_a_store_file_sqlite_cannot_open_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "tfrepro.sqlite").mkdir()  # a folder where the database file should be
    with pytest.raises(StoreError, match="cannot open the store"):
        Store(tmp_path)


# --- a store in a folder that cannot be written (chmod -R a-w, a read-only mount) -----------


ReadOnly = Callable[[Path], None]  # the conftest fixture


def test_a_read_opens_a_writable_store_as_it_is(tmp_path: Path) -> None:
    from tfrepro.store.connection import read_uri

    Store(tmp_path).close()
    assert read_uri(tmp_path / "tfrepro.sqlite") is None


def test_a_read_opens_a_read_only_store_immutable_or_through_its_wal(
    tmp_path: Path, read_only: ReadOnly
) -> None:
    from tfrepro.store.connection import read_uri

    Store(tmp_path).close()
    db = tmp_path / "tfrepro.sqlite"
    read_only(tmp_path)
    assert read_uri(db) == f"{db.as_uri()}?mode=ro&immutable=1"
    (tmp_path / "tfrepro.sqlite-wal").write_bytes(b"")  # an empty WAL holds nothing
    assert read_uri(db) == f"{db.as_uri()}?mode=ro&immutable=1"
    (tmp_path / "tfrepro.sqlite-wal").write_bytes(b"x")  # writes not yet merged: read them
    assert read_uri(db) == f"{db.as_uri()}?mode=ro"


def test_a_read_only_store_is_read_and_nothing_is_created_or_changed(
    tmp_path: Path, read_only: ReadOnly
) -> None:
    root = tmp_path / "odd ?#% name"  # a path that must be quoted in a URI
    with Store(root) as s:
        s.record(row("c1", s.begin_run("r", "cmd", {})), [0.5])
    (root / ".tfrepro-lock").unlink()
    before = {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()}
    assert sorted(before) == ["tfrepro.sqlite"]
    read_only(root)
    with Store(root, create=False) as s:
        assert [c["id"] for c in s.cells()] == ["c1"]
        assert [r["name"] for r in s.runs()] == ["r"]
        assert sorted(p.name for p in root.iterdir()) == ["artifacts", "tfrepro.sqlite"]
    after = {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()}
    assert after == before  # no lock file, no -wal or -shm, not a byte changed


def test_a_read_only_sqlite_file_without_a_schema_gets_none(
    tmp_path: Path, read_only: ReadOnly
) -> None:
    db = tmp_path / "tfrepro.sqlite"
    other = sqlite3.connect(db)
    other.execute("CREATE TABLE t (x)")
    other.close()
    before = db.read_bytes()
    read_only(tmp_path)
    with pytest.raises(StoreError, match="store"):
        Store(tmp_path, create=False)
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tfrepro.sqlite"]


def test_a_read_only_store_reads_the_writes_a_killed_run_left_in_its_wal(
    tmp_path: Path, read_only: ReadOnly
) -> None:
    import shutil

    writer = Store(tmp_path / "live")
    writer.conn.execute("PRAGMA wal_autocheckpoint=0")  # keep the write in the WAL
    writer.begin_run("unmerged", "cmd", {})
    shutil.copytree(tmp_path / "live", tmp_path / "copy")  # as a killed run leaves it
    writer.close()
    copy = tmp_path / "copy"
    assert (copy / "tfrepro.sqlite-wal").stat().st_size > 0
    read_only(copy)
    with Store(copy, create=False) as s:
        assert [r["name"] for r in s.runs()] == ["unmerged"]


def test_a_read_only_store_sqlite_cannot_read_says_to_copy_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read_only: ReadOnly
) -> None:
    from tfrepro.store.connection import Connection

    Store(tmp_path).close()
    (tmp_path / "tfrepro.sqlite-wal").write_bytes(b"x")
    read_only(tmp_path)

    def cannot(*args: Any) -> None:  # sqlite, when the WAL's -shm file cannot be made
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(Connection, "_connect", cannot)
    with pytest.raises(StoreError, match=r"cannot be written.*copy the folder") as found:
        Store(tmp_path, create=False)
    assert "\n" not in str(found.value)
