"""The `run` task as a short list of steps: spec → plan → envs → execute → store.

Nothing here prints; progress goes to a `Reporter` (see report/progress.py), and the result is
a `RunResult` the CLI renders.
"""

from __future__ import annotations

import itertools
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
from tfrepro.record import FINISHED, SETTLED, CellRecord, CellResult, Status, final_weights_id
from tfrepro.runner.tfrepro_guest.protocol import Result
from tfrepro.spec import Spec
from tfrepro.store import Store
from tfrepro.tasks.planning import (
    NO_GPU,
    Inputs,
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

    def broken_pair(self) -> tuple[str, str] | None:
        """A script that runs on one release and fails on another: the newest release where
        every cell ran and the first release after it where a cell failed (or, when only the
        newer releases run, the oldest that runs and the newest that fails before it)."""
        ran: dict[str, bool] = {}
        for c in self.cells:
            if c["status"] in (Status.OK, Status.FAILED):
                ran[c["tf_version"]] = ran.get(c["tf_version"], True) and c["status"] == Status.OK
        releases = sorted(ran, key=version_key)
        for a, b in itertools.pairwise(releases):
            if ran[a] != ran[b]:
                return (a, b) if ran[a] else (b, a)
        return None

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
                    s for s in seeds if final_weights_id(by[a][s]) != final_weights_id(by[b][s])
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
    ids = [c.id for c in planned.cells]
    store = Store(opts.store)
    try:
        todo = _todo(store, planned, opts)
        reporter.planned(len(planned.cells), len(todo), len(environments(todo)))
        if not todo:
            return ids
        spec = planned.spec
        run_id = store.begin_run(spec.name, opts.command, spec.model_dump(mode="json"))
        inputs = stage_inputs(store, planned, {c.seed for c in todo})
        todo = _fail_gpu_cells(store, run_id, todo, reporter)
        built = _build_envs(store, run_id, todo, opts, reporter)
        scheduler = _Scheduler(store, run_id, planned, opts, reporter, built, inputs)
        scheduler.run([c for c in todo if c.env.key in built])
        store.end_run(run_id)
        return ids
    finally:
        _clean_stale_work(store.root / "work")
        store.close()


def _todo(store: Store, planned: Planned, opts: Options) -> list[Cell]:
    """The planned cells the store has not finished (all of them with --rerun); the others
    become `planned.skipped`."""
    cells = planned.cells
    if opts.rerun:
        done: set[str] = set()
    else:
        done = store.finished((c.id for c in cells), SETTLED if opts.retry_failed else FINISHED)
    planned.skipped = [c for c in cells if c.id in done]
    return [c for c in cells if c.id not in done]


def _fail(
    store: Store, run_id: int, cell: Cell, reason: str, env_name: str, reporter: Reporter
) -> None:
    """Record a cell that could not start as failed, with the reason it could not."""
    outcome = cellrun.Outcome(Status.FAILED, reason)
    store.record(_result(cell, outcome, run_id, env_name, None), [])
    reporter.cell_done(cell, outcome)


def _fail_gpu_cells(store: Store, run_id: int, todo: list[Cell], reporter: Reporter) -> list[Cell]:
    """Without a visible GPU, the GPU cells fail at once (before any environment is built for
    them); the cells left to run."""
    if gpu_visible():
        return todo
    for cell in [c for c in todo if c.knobs.get("device") == "gpu"]:
        _fail(store, run_id, cell, NO_GPU, cell.env.name, reporter)
    return [c for c in todo if c.knobs.get("device") != "gpu"]


def _build_envs(
    store: Store, run_id: int, todo: list[Cell], opts: Options, reporter: Reporter
) -> dict[str, provision.BuiltEnv]:
    """Build (or find) every environment the cells need, by key. An environment that does not
    build fails its cells, with the build error as their reason; the others still run."""
    root = provision.envs_root(opts.cache)
    built: dict[str, provision.BuiltEnv] = {}
    for env in environments(todo):
        reporter.env_started(env, provision.find(env, root) is not None)
        try:
            b = provision.ensure(env, root)
        except EnvironmentBuildError as exc:
            reporter.env_done(env, str(exc))
            for cell in (c for c in todo if c.env.key == env.key):
                _fail(store, run_id, cell, str(exc), env.name, reporter)
            continue
        store.put_env(b.name, b.versions, b.lock, {"request": env.__dict__})
        built[env.key] = b
        reporter.env_done(env, None)
    return built


class _Scheduler:
    """One run's cells on the executor: run_pool's callbacks as methods over the state they
    share (the store, the built environments, the warm workers or Ray, this run's claims, the
    worker keys of the cells in flight). `work` runs on pool threads; every other method runs on
    the caller's thread, as run_pool promises, so the shared state needs no lock."""

    def __init__(
        self,
        store: Store,
        run_id: int,
        planned: Planned,
        opts: Options,
        reporter: Reporter,
        built: dict[str, provision.BuiltEnv],
        inputs: Inputs,
    ) -> None:
        self.store, self.run_id, self.planned, self.opts = store, run_id, planned, opts
        self.reporter, self.built, self.inputs = reporter, built, inputs
        self.work_root = store.root / "work"
        self.timeout = opts.timeout or planned.spec.timeout
        self.remote = RayExecutor(opts.address, opts.cache) if opts.executor == "ray" else None
        # warm workers only for the local pool: Ray workers start their own processes
        self.pool = (
            WorkerPool(self.work_root, opts.jobs) if opts.warm and self.remote is None else None
        )
        self.running: list[str] = []  # worker keys of the cells started and not yet done
        self.claims = _Claims(store, f"{socket.gethostname()}:{os.getpid()}:{run_id}")
        self.wanted = SETTLED if opts.retry_failed else FINISHED

    def run(self, cells: list[Cell]) -> None:
        jobs = max(self.opts.jobs, self.remote.slots) if self.remote is not None else self.opts.jobs
        try:
            run_pool(
                cells,
                self.work,
                jobs=jobs,
                on_start=self.started,
                on_done=self.finished,
                ready=self.claim,
                tick=self.claims.renew,
                pick=self.pick,
            )
        finally:
            self.claims.drop_all()
            if self.pool is not None:
                self.pool.close()
            if self.remote is not None:
                self.remote.close()

    def _folder(self, cell: Cell) -> Path:
        # the pid keeps folders of concurrent runs apart and lets _clean_stale_work find the dead
        return self.work_root / f"{cell.id}-{os.getpid()}"

    def _key(self, cell: Cell) -> str:
        return worker_key(cell, self.built[cell.env.key].python)

    def claim(self, cell: Cell) -> str:
        """run, skip or wait: another run on this store may have finished the cell, or be
        running it now."""
        if not self.opts.rerun and self.store.finished([cell.id], self.wanted):
            self.reporter.cell_elsewhere(cell)
            return "skip"
        return "run" if self.claims.take(cell.id) else "wait"

    def pick(self, pending: list[Cell]) -> int:
        """Which pending cell starts next: one whose warm worker is idle, when there are any."""
        if self.pool is None:
            return 0
        return self.pool.pick([self._key(c) for c in pending], self.running)

    def started(self, cell: Cell) -> None:
        self.running.append(self._key(cell))
        self.reporter.cell_started(cell)

    def work(self, cell: Cell) -> cellrun.Outcome:
        job = job_for(self.planned, cell, self.inputs)
        if self.remote is not None:
            return self.remote.run(cell, job, self._folder(cell), self.timeout)
        python = self.built[cell.env.key].python
        return cellrun.run_cell(cell, job, python, self._folder(cell), self.timeout, self.pool)

    def finished(self, cell: Cell, outcome: cellrun.Outcome) -> None:
        """Store the cell's result and arrays, then let its claim and worker go."""
        sha = self.store.put_artifact(outcome.arrays, move=True) if outcome.arrays else None
        losses = [
            float(x) if x is not None else float("nan") for x in outcome.result.get(Result.LOSS, [])
        ]
        env_name = self.built[cell.env.key].name
        self.store.record(_result(cell, outcome, self.run_id, env_name, sha), losses)
        shutil.rmtree(self._folder(cell), ignore_errors=True)
        self.reporter.cell_done(cell, outcome)
        self.claims.drop(cell.id)
        self.running.remove(self._key(cell))


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
