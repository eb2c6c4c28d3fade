"""The `run` task as a short list of steps: spec → plan → envs → execute → store.

Nothing here prints; progress goes to a `Reporter` (see report/progress.py), and the result is
a `RunResult` the CLI renders.
"""

from __future__ import annotations

import math
import os
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tfrepro import process
from tfrepro import spec as spec_mod
from tfrepro.envs import provision
from tfrepro.envs.catalogue import version_key
from tfrepro.envs.request import EnvRequest
from tfrepro.errors import EnvironmentBuildError
from tfrepro.execute import cellrun
from tfrepro.execute.local import run_pool
from tfrepro.execute.remote import RayExecutor
from tfrepro.execute.workers import WorkerPool, worker_key
from tfrepro.plan import Cell, environments
from tfrepro.record import FINISHED, SETTLED, CellRecord, CellResult, Status
from tfrepro.runner.tfrepro_guest.protocol import Result
from tfrepro.spec import Spec
from tfrepro.store import Store
from tfrepro.tasks.planning import (
    NO_GPU,
    Options,
    Planned,
    gpu_visible,
    job_for,
    make_plan,
    stage_inputs,
)


class Reporter(Protocol):
    def planned(self, total: int, todo: int, envs: int) -> None: ...
    def env_started(self, env: EnvRequest, cached: bool) -> None: ...
    def env_done(self, env: EnvRequest, error: str | None) -> None: ...
    def cell_started(self, cell: Cell) -> None: ...
    def cell_done(self, cell: Cell, outcome: cellrun.Outcome) -> None: ...
    def cell_elsewhere(self, cell: Cell) -> None: ...  # finished by another run on the store


@dataclass
class RunResult:
    planned: Planned
    cells: list[CellRecord]  # the latest attempt of every planned cell, as stored
    seconds: float

    @property
    def releases(self) -> list[str]:
        return sorted({c["tf_version"] for c in self.cells}, key=version_key)

    @property
    def one_setting(self) -> bool:
        """Every cell has the same knobs, environment variables and Keras pin (so that one
        explain of two releases, rebuilt from the spec alone, means the same cells)."""
        first = self.cells[0] if self.cells else None
        return (
            all(
                (c["knobs"], c["env_vars"], c["keras_pin"])
                == (first["knobs"], first["env_vars"], first["keras_pin"])
                for c in self.cells
            )
            if first
            else True
        )

    def explain_pair(self) -> tuple[str, str] | None:
        """The two releases worth explaining: the pair whose final weights differ on the most
        seeds, then by the largest gap in a final metric's mean; None when every release
        trained bitwise identically (nothing to explain)."""
        by: dict[str, dict[int, CellRecord]] = {}
        for c in self.cells:
            if c["status"] == Status.OK:
                by.setdefault(c["tf_version"], {})[c["seed"]] = c
        releases = sorted(by, key=version_key)
        best: tuple[tuple[float, float], tuple[str, str]] | None = None
        for i, a in enumerate(releases):
            for b in releases[i + 1 :]:
                seeds = sorted(set(by[a]) & set(by[b]))
                differ = [
                    s
                    for s in seeds
                    if by[a][s]["final_weights_sha256"] != by[b][s]["final_weights_sha256"]
                ]
                if not differ:
                    continue
                score = (len(differ) / len(seeds), _metric_gap(by[a], by[b], seeds))
                if best is None or score > best[0]:
                    best = (score, (a, b))
        return None if best is None else best[1]


def _metric_gap(a: dict[int, CellRecord], b: dict[int, CellRecord], seeds: list[int]) -> float:
    """The largest difference between the two groups' mean final metrics (0 when none)."""
    gaps = [0.0]
    names = set.intersection(*({*(a[s]["metrics"] or {}), *(b[s]["metrics"] or {})}
                               for s in seeds))  # fmt: skip
    for name in names:
        try:
            mean_a = sum(float(a[s]["metrics"][name]) for s in seeds) / len(seeds)
            mean_b = sum(float(b[s]["metrics"][name]) for s in seeds) / len(seeds)
        except (KeyError, TypeError, ValueError):
            continue
        if math.isfinite(mean_a - mean_b):
            gaps.append(abs(mean_a - mean_b))
    return max(gaps)


def load_spec(path: Path | None, overrides: dict[str, object] | None = None) -> Spec:
    """The spec file, or the built-in experiment (MLP on digits) when there is none."""
    if path is None:
        return spec_mod.from_dict(
            {}, origin="command line", base_dir=Path.cwd(), overrides=overrides
        )
    return spec_mod.load(path, overrides)


def run(spec: Spec, opts: Options, reporter: Reporter) -> RunResult:
    """Plan and execute; the stored record of every planned cell."""
    start = time.monotonic()
    planned = make_plan(spec, opts)
    ids = set(execute(planned, opts, reporter))
    return RunResult(planned, stored(opts.store, ids), round(time.monotonic() - start, 1))


def stored(store_path: Path, ids: set[str]) -> list[CellRecord]:
    store = Store(store_path, create=False)
    try:
        return [c for c in store.cells(with_loss=False) if c["id"] in ids]
    finally:
        store.close()


def _result(
    cell: Cell, outcome: cellrun.Outcome, run_id: int, env_name: str, arrays_sha: str | None
) -> CellResult:
    res = outcome.result
    fp = dict(res.get(Result.FINGERPRINT) or {})
    if outcome.onednn_log is not None:
        # TF's own log line is the one indicator that every release from 2.5 on agrees
        # with; _pywrap_util_port.IsMklEnabled (kept as onednn_enabled) says False on 2.9
        # while the log says on.
        fp["onednn_log_says_on"] = outcome.onednn_log
        fp["onednn"] = outcome.onednn_log
    return CellResult(
        cell_id=cell.id,
        run_id=run_id,
        experiment=cell.experiment,
        tf_version=cell.tf_version,
        python_version=fp.get("python") or cell.env.python_version,
        keras_version=res.get(Result.KERAS_VERSION),
        numpy_version=fp.get("numpy"),
        keras_pin=cell.keras,
        seed=cell.seed,
        knobs=cell.knobs,
        env_vars=[list(kv) for kv in cell.env_vars],
        env_name=env_name,
        status=outcome.status,
        reason=outcome.reason,
        traceback=outcome.traceback,
        data_sha256=res.get(Result.DATA_SHA256),
        init_weights_sha256=res.get(Result.INIT_WEIGHTS_SHA256),
        final_weights_sha256=res.get(Result.FINAL_WEIGHTS_SHA256),
        metrics=res.get(Result.METRICS),
        epoch_metrics=res.get(Result.EPOCH_METRICS),
        timings=res.get(Result.TIMINGS),
        fingerprint=fp,
        knobs_applied=res.get(Result.KNOBS_APPLIED),
        optimizer_class=res.get(Result.OPTIMIZER_CLASS),
        logs=res.get(Result.LOGS),
        arrays=arrays_sha,
        peak_memory_mb=res.get(Result.PEAK_MEMORY_MB),
        wall_seconds=outcome.wall_seconds,
        script=res.get(Result.SCRIPT),
        worker=res.get(Result.WORKER),
    )


def execute(planned: Planned, opts: Options, reporter: Reporter) -> list[str]:
    """Run every cell of the plan that the store does not have yet; returns all cell ids."""
    spec, cells = planned.spec, planned.cells
    store = Store(opts.store)
    try:
        if opts.rerun:
            done: set[str] = set()
        else:
            done = store.finished((c.id for c in cells), SETTLED if opts.retry_failed else FINISHED)
        todo = [c for c in cells if c.id not in done]
        planned.skipped = [c for c in cells if c.id in done]
        envs = environments(todo)
        reporter.planned(len(cells), len(todo), len(envs))
        if not todo:
            return [c.id for c in cells]
        run_id = store.begin_run(spec.name, opts.command, spec.model_dump(mode="json"))
        inputs = stage_inputs(store, planned, {c.seed for c in todo})

        if not gpu_visible():  # GPU cells fail fast, before any environment is built
            for cell in [c for c in todo if c.knobs.get("device") == "gpu"]:
                outcome = cellrun.Outcome(Status.FAILED, NO_GPU)
                store.record(_result(cell, outcome, run_id, cell.env.name, None), [])
                reporter.cell_done(cell, outcome)
            todo = [c for c in todo if c.knobs.get("device") != "gpu"]
            envs = environments(todo)
        root = provision.envs_root(opts.cache)
        built: dict[str, provision.BuiltEnv] = {}
        for env in envs:
            reporter.env_started(env, provision.find(env, root) is not None)
            try:
                b = provision.ensure(env, root)
            except EnvironmentBuildError as exc:
                reporter.env_done(env, str(exc))
                for cell in (c for c in todo if c.env.key == env.key):
                    outcome = cellrun.Outcome(Status.FAILED, str(exc))
                    store.record(_result(cell, outcome, run_id, env.name, None), [])
                    reporter.cell_done(cell, outcome)
                continue
            store.put_env(b.name, b.versions, b.lock, {"request": env.__dict__})
            built[env.key] = b
            reporter.env_done(env, None)

        runnable = [c for c in todo if c.env.key in built]
        work_root = store.root / "work"
        timeout = opts.timeout or spec.timeout

        remote = RayExecutor(opts.address, opts.cache) if opts.executor == "ray" else None
        pool = WorkerPool(work_root, opts.jobs) if opts.warm and remote is None else None
        jobs = max(opts.jobs, remote.slots) if remote else opts.jobs

        def work(cell: Cell) -> cellrun.Outcome:
            job, folder = job_for(planned, cell, inputs), work_root / f"{cell.id}-{os.getpid()}"
            if remote is not None:
                return remote.run(cell, job, folder, timeout)
            return cellrun.run_cell(cell, job, built[cell.env.key].python, folder, timeout, pool)

        def key(cell: Cell) -> str:
            return worker_key(cell, built[cell.env.key].python)

        running: list[str] = []  # keys of the cells started and not yet done

        def pick(pending: list[Cell]) -> int:
            return 0 if pool is None else pool.pick([key(c) for c in pending], running)

        def started(cell: Cell) -> None:
            running.append(key(cell))
            reporter.cell_started(cell)

        def record(cell: Cell, outcome: cellrun.Outcome) -> None:
            sha = store.put_artifact(outcome.arrays, move=True) if outcome.arrays else None
            losses = [
                float(x) if x is not None else float("nan")
                for x in outcome.result.get(Result.LOSS, [])
            ]
            store.record(_result(cell, outcome, run_id, built[cell.env.key].name, sha), losses)
            shutil.rmtree(work_root / f"{cell.id}-{os.getpid()}", ignore_errors=True)
            reporter.cell_done(cell, outcome)

        owner = f"{socket.gethostname()}:{os.getpid()}:{run_id}"
        wanted = SETTLED if opts.retry_failed else FINISHED
        claims = _Claims(store, owner)

        def ready(cell: Cell) -> str:
            # another run on this store may have finished it, or be running it now
            if not opts.rerun and store.finished([cell.id], wanted):
                reporter.cell_elsewhere(cell)
                return "skip"
            return "run" if claims.take(cell.id) else "wait"

        def record_and_release(cell: Cell, outcome: cellrun.Outcome) -> None:
            record(cell, outcome)
            claims.drop(cell.id)
            running.remove(key(cell))

        try:
            run_pool(
                runnable,
                work,
                jobs=jobs,
                on_start=started,
                on_done=record_and_release,
                ready=ready,
                tick=claims.renew,
                pick=pick,
            )
        finally:
            claims.drop_all()
            if pool is not None:
                pool.close()
            if remote is not None:
                remote.close()
        store.end_run(run_id)
        return [c.id for c in cells]
    finally:
        _clean_stale_work(store.root / "work")
        store.close()


class _Claims:
    """This run's claims on cells (Store.claim), renewed well before their lease runs out."""

    LEASE = 60.0  # seconds; renewed every RENEW seconds while the run lives

    RENEW = 10.0

    def __init__(self, store: Store, owner: str) -> None:
        self.store, self.owner = store, owner
        self.renewed = time.monotonic()

    def take(self, cell_id: str) -> bool:
        return self.store.claim(cell_id, self.owner, self.LEASE)

    def renew(self) -> None:
        if time.monotonic() - self.renewed >= self.RENEW:
            self.store.renew(self.owner, self.LEASE)
            self.renewed = time.monotonic()

    def drop(self, cell_id: str) -> None:
        self.store.release(self.owner, cell_id)

    def drop_all(self) -> None:
        self.store.release(self.owner)


def _clean_stale_work(work_root: Path) -> None:
    """Remove work folders of processes that no longer exist (killed runs)."""
    if not work_root.exists():
        return
    for path in work_root.iterdir():
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not process.alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
