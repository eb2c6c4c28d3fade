"""tfrepro.tasks.run: plan → execute → store, with resume, --retry-failed and --rerun.

No TensorFlow: the environment is this interpreter (provision.ensure returns it) and the
guest runner is a small script that writes a result, so what is tested is the host side:
what gets run, what gets recorded, and what a second run skips.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tfrepro import spec as spec_mod
from tfrepro.envs import provision
from tfrepro.envs.request import EnvRequest
from tfrepro.errors import EnvironmentBuildError, UsageError
from tfrepro.execute import cellrun
from tfrepro.plan import Cell
from tfrepro.store import Store
from tfrepro.tasks import planning
from tfrepro.tasks import run as workflow

FAKE_RUNNER = textwrap.dedent(
    """
    import json, os, sys

    def cell(job_path, err):
        job = json.load(open(job_path))
        out = job["out_dir"]
        with open(os.path.join(os.path.dirname(os.path.dirname(out)), "..", "runs.log"), "a") as f:
            f.write(job["cell_id"] + "\\n")
        assert os.path.exists(job["data_path"]), job["data_path"]
        if job["order_path"]:
            assert os.path.exists(job["order_path"]), job["order_path"]
        if job["seed"] in job["params"].get("fail_seeds", []):
            err(out).write("boom\\n")
            sys.exit(3)
        result = {"status": "ok", "loss": [1.0, 0.5, None], "metrics": {"accuracy": 0.75},
                  "keras_version": "3.3.3", "fingerprint": {"python": "3.11.7", "numpy": "1.26.4"},
                  "worker": {"mode": "warm" if len(sys.argv) > 2 else "fresh", "pid": os.getpid()}}
        with open(os.path.join(out, "result.json"), "w") as f:
            json.dump(result, f)

    if sys.argv[1] == "--serve":  # a warm worker (guest worker.py's protocol)
        print(json.dumps({"ready": True}), flush=True)
        for line in sys.stdin:
            cell(json.loads(line)["job"], lambda out: open(os.path.join(out, "stderr.txt"), "a",
                                                          buffering=1))
            print(json.dumps({"done": True}), flush=True)
    else:
        cell(sys.argv[1], lambda out: sys.stderr)
    """
)


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def planned(self, total: int, todo: int, envs: int) -> None:
        self.events.append(("planned", (total, todo, envs)))

    def env_started(self, env: EnvRequest, cached: bool) -> None:
        self.events.append(("env_started", env.name))

    def env_done(self, env: EnvRequest, error: str | None) -> None:
        self.events.append(("env_done", error))

    def cell_started(self, cell: Cell) -> None:
        self.events.append(("cell_started", cell.id))

    def cell_done(self, cell: Cell, outcome: cellrun.Outcome) -> None:
        self.events.append(("cell_done", (cell.id, outcome.status)))

    def cell_elsewhere(self, cell: Cell) -> None:
        self.events.append(("cell_elsewhere", cell.id))

    def of(self, kind: str) -> list[Any]:
        return [v for k, v in self.events if k == kind]


@pytest.fixture
def fake_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[EnvRequest]:
    """provision.ensure returns this interpreter as the built environment; records requests."""
    runner = tmp_path / "runner"
    runner.mkdir()
    (runner / "__main__.py").write_text(FAKE_RUNNER)
    monkeypatch.setattr(cellrun, "RUNNER_DIR", runner)
    requests: list[EnvRequest] = []

    def ensure(req: EnvRequest, root: Path) -> provision.BuiltEnv:
        requests.append(req)
        env_dir = root / req.name
        (env_dir / "bin").mkdir(parents=True, exist_ok=True)
        if not (env_dir / "bin" / "python").exists():
            (env_dir / "bin" / "python").symlink_to(sys.executable)
        return provision.BuiltEnv(
            env_dir,
            req.name,
            {"tensorflow": req.tf_version},
            ["numpy==1.26.4"],
            0.1,
            "2025-01-01T00:00:00Z",
        )

    monkeypatch.setattr(provision, "ensure", ensure)
    monkeypatch.setattr(provision, "find", lambda req, root: None)
    return requests


def planned(tmp_path: Path, **matrix: Any) -> planning.Planned:
    raw = {
        "data": {"name": "iris"},
        "train": {"epochs": 2},
        "params": {"fail_seeds": matrix.pop("fail_seeds", [])},
        "matrix": {"tf": ["2.15", "2.16"], "seeds": [0, 1], **matrix},
    }
    s = spec_mod.from_dict(raw, base_dir=tmp_path)
    return planning.make_plan(s, options(tmp_path))


def options(tmp_path: Path, **kw: Any) -> planning.Options:
    return planning.Options(
        store=tmp_path / "store", python=sys.executable, cache=tmp_path / "cache", **kw
    )


def runs(tmp_path: Path) -> list[str]:
    log = tmp_path / "runs.log"
    return log.read_text().split() if log.exists() else []


def stored(tmp_path: Path, **kw: Any) -> list[dict[str, Any]]:
    store = Store(tmp_path / "store", create=False)
    try:
        return store.cells(**kw)
    finally:
        store.close()


def test_make_plan_needs_releases(tmp_path: Path) -> None:
    s = spec_mod.from_dict({})
    with pytest.raises(UsageError, match="--tf"):
        planning.make_plan(s, options(tmp_path))


def test_make_plan_prepares_data_and_cells(tmp_path: Path) -> None:
    p = planned(tmp_path)
    assert len(p.cells) == 4
    assert p.data.n_train > 0 and len(p.data.sha256) == 64
    assert not (tmp_path / "store").exists()  # planning writes nothing


def test_execute_runs_records_and_resumes(tmp_path: Path, fake_env: list[EnvRequest]) -> None:
    p = planned(tmp_path)
    rec = Recorder()
    ids = workflow.execute(p, options(tmp_path, jobs=2), rec)
    assert sorted(ids) == sorted(c.id for c in p.cells)
    assert rec.of("planned") == [(4, 4, 2)]
    assert len(fake_env) == 2  # one environment per release, shared by the seeds
    assert sorted(runs(tmp_path)) == sorted(ids)
    cells = stored(tmp_path)
    assert {c["id"] for c in cells} == set(ids)
    for c in cells:
        assert c["status"] == "ok"
        assert c["loss"] == [1.0, 0.5, None]
        assert c["metrics"] == {"accuracy": 0.75}
        assert c["fingerprint"]["packages"] == ["numpy==1.26.4"]
    assert not any((tmp_path / "store" / "work").glob("*"))  # work folders removed

    again = Recorder()
    assert sorted(workflow.execute(p, options(tmp_path), again)) == sorted(ids)
    assert again.of("planned") == [(4, 0, 0)]
    assert again.of("cell_started") == []
    assert len(runs(tmp_path)) == 4  # nothing ran the second time


def test_failed_cells_are_kept_and_retried_only_when_asked(
    tmp_path: Path, fake_env: list[EnvRequest]
) -> None:
    p = planned(tmp_path, fail_seeds=[1])
    workflow.execute(p, options(tmp_path), Recorder())
    by_seed = {(c["tf_version"], c["seed"]): c for c in stored(tmp_path)}
    assert {k: c["status"] for k, c in by_seed.items()} == {
        ("2.15.1", 0): "ok",
        ("2.15.1", 1): "failed",
        ("2.16.2", 0): "ok",
        ("2.16.2", 1): "failed",
    }
    assert by_seed[("2.16.2", 1)]["reason"].startswith("the runner exited with code 3")
    assert "boom" in by_seed[("2.16.2", 1)]["traceback"]

    rec = Recorder()
    workflow.execute(p, options(tmp_path), rec)
    assert rec.of("planned") == [(4, 0, 0)]  # failed counts as finished for a plain rerun

    rec = Recorder()
    workflow.execute(p, options(tmp_path, retry_failed=True), rec)
    assert rec.of("planned") == [(4, 2, 2)]
    attempts = [(c["seed"], c["attempt"]) for c in stored(tmp_path, all_attempts=True)]
    assert sorted(attempts) == [(0, 1), (0, 1), (1, 1), (1, 1), (1, 2), (1, 2)]

    rec = Recorder()
    workflow.execute(p, options(tmp_path, rerun=True), rec)
    assert rec.of("planned") == [(4, 4, 2)]
    assert len(runs(tmp_path)) == 4 + 2 + 4


def test_a_failed_environment_build_fails_its_cells_without_running_them(
    tmp_path: Path, fake_env: list[EnvRequest], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_ensure = provision.ensure

    def ensure(req: EnvRequest, root: Path) -> provision.BuiltEnv:
        if req.tf_version.startswith("2.15"):
            raise EnvironmentBuildError("no wheel for you", None)
        return real_ensure(req, root)

    monkeypatch.setattr(provision, "ensure", ensure)
    p = planned(tmp_path)
    rec = Recorder()
    workflow.execute(p, options(tmp_path), rec)
    assert sorted(rec.of("env_done"), key=str) == [None, "no wheel for you"]
    statuses = {(c["tf_version"], c["seed"]): (c["status"], c["reason"]) for c in stored(tmp_path)}
    assert statuses[("2.15.1", 0)] == ("failed", "no wheel for you")
    assert statuses[("2.15.1", 1)] == ("failed", "no wheel for you")
    assert statuses[("2.16.2", 0)][0] == "ok"
    assert all(cid in {c.id for c in p.cells if c.tf_version == "2.16.2"} for cid in runs(tmp_path))


def test_stale_work_folders_of_dead_processes_are_removed(tmp_path: Path) -> None:
    work = tmp_path / "work"
    dead = work / "abc-999999999"
    mine = work / "abc-1"  # pid 1 always exists
    dead.mkdir(parents=True)
    mine.mkdir()
    workflow._clean_stale_work(work)
    assert not dead.exists() and mine.exists()


def _cell(tf: str, seed: int, final: str, accuracy: float) -> dict[str, Any]:
    return {"tf_version": tf, "seed": seed, "status": "ok", "final_weights_sha256": final,
            "metrics": {"accuracy": accuracy}}  # fmt: skip


def test_the_suggested_explain_pair_is_the_most_different_not_an_identical_one() -> None:
    from tfrepro.tasks.run import RunResult

    def pair(cells: list[dict[str, Any]]) -> tuple[str, str] | None:
        return RunResult(None, cells, 1.0).explain_pair()  # type: ignore[arg-type]

    # 2.15 and 2.21 train bitwise identically; 2.16 differs on every seed
    same = [_cell("2.15.1", 0, "a", 0.90), _cell("2.15.1", 1, "b", 0.92)]
    same += [_cell("2.21.0", 0, "a", 0.90), _cell("2.21.0", 1, "b", 0.92)]
    keras3 = [_cell("2.16.2", 0, "c", 0.80), _cell("2.16.2", 1, "d", 0.81)]
    assert pair(same + keras3) == ("2.15.1", "2.16.2")  # a tie on the gap: the older pair
    # more seeds differing wins first; then the larger metric gap
    worse = [*same[:3], _cell("2.21.0", 1, "z", 0.10)]
    assert pair(worse + keras3) == ("2.16.2", "2.21.0")
    assert pair(same) is None  # nothing differs: no explain suggested


def test_gpu_cells_without_a_gpu_fail_at_once_and_cpu_cells_still_run(
    tmp_path: Path, fake_env: list[EnvRequest], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workflow, "gpu_visible", lambda: False)
    p = planned(tmp_path, tf=["2.15"], seeds=[0], knobs={"device": ["cpu", "gpu"]})
    workflow.execute(p, options(tmp_path), Recorder())
    by_device = {c["knobs"]["device"]: c for c in stored(tmp_path)}
    assert by_device["cpu"]["status"] == "ok"
    assert by_device["gpu"]["status"] == "failed"
    assert "no visible NVIDIA GPU" in by_device["gpu"]["reason"]
    assert len(fake_env) == 1 and "cuda" not in str(fake_env[0].requirements)  # no GPU env built
    assert len(runs(tmp_path)) == 1


def test_executor_ray_without_ray_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tfrepro.execute import remote

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(UsageError, match=r"pip install 'tfrepro\[ray\]'"):
        remote.RayExecutor(None, None)


def test_executor_ray_with_no_cluster_says_how_to_start_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("ray")
    from tfrepro.execute import remote

    with pytest.raises(UsageError, match="ray start --head"):
        remote.RayExecutor("127.0.0.1:1", None)


def test_the_broken_pair_is_where_the_script_stops_or_starts_running() -> None:
    from tfrepro.tasks.run import RunResult

    def broken(statuses: dict[str, str]) -> tuple[str, str] | None:
        cells = [{**_cell(tf, 0, "a", 0.9), "status": s} for tf, s in statuses.items()]
        return RunResult(None, cells, 1.0).broken_pair()  # type: ignore[arg-type]

    assert broken({"2.15.1": "ok", "2.16.2": "failed", "2.21.0": "failed"}) == (
        "2.15.1",
        "2.16.2",
    )
    # a Keras 3 script: only the newer releases run; the runnable side comes first
    assert broken({"2.15.1": "failed", "2.16.2": "ok"}) == ("2.16.2", "2.15.1")
    assert broken({"2.15.1": "ok", "2.16.2": "ok"}) is None
    assert broken({"2.15.1": "ok", "2.16.2": "timeout"}) is None  # a timeout is not a break
