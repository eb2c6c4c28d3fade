"""tfrepro.execute.workers (host side): a warm worker's protocol, failures and hand-over.

The guest is a fake runner that speaks the warm-worker protocol (guest worker.py) and does
what each job says: finish, ask to retire, die, or hang. The real guest is tested on real
releases in tests/integration/test_warm_workers.py.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from tfrepro.envs.request import EnvRequest
from tfrepro.execute import cellrun, local
from tfrepro.execute.workers import WorkerPool, worker_key
from tfrepro.plan import Cell

FAKE_SERVER = textwrap.dedent(
    """
    import json, os, sys, time

    if sys.argv[1] != "--serve":
        job = json.load(open(sys.argv[1]))
        with open(os.path.join(job["out_dir"], "result.json"), "w") as f:
            json.dump({"status": "ok", "pid": os.getpid()}, f)
        sys.exit(0)
    boot = json.load(open(sys.argv[2]))
    if boot["knobs"].get("boot") == "exit":
        sys.stderr.write("ImportError: no tensorflow here\\n")
        sys.exit(1)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        job = json.load(open(json.loads(line)["job"]))
        out, act = job["out_dir"], job["act"]
        if act == "die":
            open(os.path.join(out, "stderr.txt"), "w").write("Fatal Python error\\n")
            os._exit(3)
        if act == "hang":
            time.sleep(120)
        with open(os.path.join(out, "result.json"), "w") as f:
            json.dump({"status": "ok", "pid": os.getpid(),
                       "worker": {"mode": "warm", "pid": os.getpid()}}, f)
        reply = {"done": True}
        if act == "retire":
            reply["retire"] = "the cell changed global state: environment"
        print(json.dumps(reply), flush=True)
    """
)


@pytest.fixture
def pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WorkerPool:
    runner = tmp_path / "runner"
    runner.mkdir()
    (runner / "__main__.py").write_text(FAKE_SERVER)
    monkeypatch.setattr(cellrun, "RUNNER_DIR", runner)
    with WorkerPool(tmp_path / "workers", limit=2) as p:
        yield p


def cell(seed: int = 0, **knobs: object) -> Cell:
    env = EnvRequest("tensorflow-cpu", "2.16.2", sys.executable, "3.11.7", "era", None, ())
    return Cell(f"cell{seed}", "2.16.2", seed, {"threads": 1, **knobs}, None, (), env, "exp")


def run(pool: WorkerPool, tmp_path: Path, act: str, c: Cell, timeout: float = 30):
    work = tmp_path / "work" / f"{c.id}-{act}"
    return cellrun.run_cell(c, {"act": act, "seed": c.seed}, Path(sys.executable), work, timeout,
                            pool)  # fmt: skip


def test_cells_of_one_setting_share_a_worker(pool: WorkerPool, tmp_path: Path) -> None:
    first = run(pool, tmp_path, "ok", cell(0))
    second = run(pool, tmp_path, "ok", cell(1))
    assert first.status == second.status == "ok"
    assert first.result["worker"]["mode"] == "warm"
    assert first.result["pid"] == second.result["pid"]
    other = run(pool, tmp_path, "ok", cell(2, onednn="off"))  # another setting: its own worker
    assert other.result["pid"] != first.result["pid"]


def test_a_dead_worker_fails_its_cell_and_is_replaced(pool: WorkerPool, tmp_path: Path) -> None:
    before = run(pool, tmp_path, "ok", cell(0))
    died = run(pool, tmp_path, "die", cell(1))
    assert died.status == "failed"
    assert died.reason == "the runner exited with code 3 without a result: Fatal Python error"
    assert died.result["worker"]["replaced"] is True
    after = run(pool, tmp_path, "ok", cell(2))
    assert after.status == "ok" and after.result["pid"] != before.result["pid"]


def test_a_hung_cell_times_out_and_its_worker_is_killed(pool: WorkerPool, tmp_path: Path) -> None:
    hung = run(pool, tmp_path, "hang", cell(0), timeout=1)
    assert hung.status == "timeout" and "1 s" in hung.reason
    assert not pool.idle and not pool.busy
    assert run(pool, tmp_path, "ok", cell(1)).status == "ok"


def test_retire_hands_the_setting_over_to_fresh_processes(pool: WorkerPool, tmp_path: Path) -> None:
    retired = run(pool, tmp_path, "retire", cell(0))
    assert retired.status == "ok" and retired.result["worker"]["mode"] == "warm"
    fresh = run(pool, tmp_path, "ok", cell(1))
    assert fresh.result["worker"] == {
        "mode": "fresh",
        "fallback": "the cell changed global state: environment",
    }
    assert pool.fallback(worker_key(cell(1), Path(sys.executable)))


def test_a_worker_that_cannot_start_falls_back_with_the_reason(
    pool: WorkerPool, tmp_path: Path
) -> None:
    out = run(pool, tmp_path, "ok", cell(0, boot="exit"))
    assert out.status == "ok"
    assert out.result["worker"]["mode"] == "fresh"
    assert out.result["worker"]["fallback"] == (
        "the warm worker did not start (exited with code 1: ImportError: no tensorflow here)"
    )


def test_at_most_limit_workers_live(pool: WorkerPool, tmp_path: Path) -> None:
    for i, onednn in enumerate(("on", "off", "default")):
        run(pool, tmp_path, "ok", cell(i, onednn=onednn))
    assert len(pool.idle) == 2  # the oldest idle one was closed to make room
    pool.close()
    assert not any((tmp_path / "workers").glob("worker-*"))


def test_pick_prefers_an_idle_worker_then_a_setting_without_one(
    pool: WorkerPool, tmp_path: Path
) -> None:
    run(pool, tmp_path, "ok", cell(0, onednn="on"))
    python = Path(sys.executable)
    on, off = (worker_key(cell(0, onednn=v), python) for v in ("on", "off"))
    assert pool.pick([off, off, on]) == 2  # an idle worker can take it now
    pool.busy.append(on)
    assert pool.pick([on, on, off]) == 0  # (the idle one still takes `on` first)
    pool.idle.pop().close()
    assert pool.pick([on, off]) == 1  # `on` has a worker busy: start `off`'s import meanwhile


def test_default_jobs_is_bounded_by_cores_and_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    jobs = local.default_jobs()
    assert 1 <= jobs <= 4
    assert json.dumps(jobs)  # an int
