"""The `run` command as a short list of steps: spec → data → plan → envs → execute → store.

Nothing here prints; progress goes to a `Reporter` (see report/progress.py).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from tfrepro import cellrun, datasets
from tfrepro.envs import catalogue as catalogue_mod
from tfrepro.envs import interpreters, provision
from tfrepro.errors import EnvironmentBuildError, UsageError
from tfrepro.execute.local import run_pool
from tfrepro.plan import Cell, EnvRequest, environments, plan
from tfrepro.spec import Spec
from tfrepro.store import DONE, Store


class Reporter(Protocol):
    def planned(self, total: int, todo: int, envs: int) -> None: ...
    def env_started(self, env: EnvRequest, cached: bool) -> None: ...
    def env_done(self, env: EnvRequest, error: str | None) -> None: ...
    def cell_started(self, cell: Cell) -> None: ...
    def cell_done(self, cell: Cell, outcome: cellrun.Outcome) -> None: ...


@dataclass
class Options:
    store: Path = Path(".tfrepro")
    jobs: int = 1
    dry_run: bool = False
    rerun: bool = False
    retry_failed: bool = False
    timeout: float | None = None
    python: str | None = None
    cache: Path | None = None
    command: str = "tfrepro run"


@dataclass
class Planned:
    spec: Spec
    cells: list[Cell]
    data: datasets.Prepared
    skipped: list[Cell] = field(default_factory=list)


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_plan(spec: Spec, opts: Options) -> Planned:
    if not spec.matrix.tf:
        raise UsageError(
            "no TensorFlow releases to run: give --tf (e.g. --tf 2.15,2.16) or "
            "matrix.tf in the spec"
        )
    cat = catalogue_mod.load()
    releases = {r.version: r for text in spec.matrix.tf for r in cat.resolve(text)}
    forced = interpreters.explicit(opts.python) if opts.python else None
    available = interpreters.discover()
    preferred = (forced.minor if forced else None) or spec.matrix.python or _host_minor()
    cache = opts.cache or catalogue_mod.user_cache_dir()
    data = datasets.prepare(spec.data, spec.data_path(), cache=cache)
    model_path = spec.model_path()
    cells = plan(
        spec,
        list(releases.values()),
        cat,
        available,
        preferred,
        data_sha256=data.sha256,
        model_sha256=_sha256_file(model_path) if model_path else None,
        forced_python=forced,
    )
    return Planned(spec, cells, data)


def _host_minor() -> str:
    import sys

    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def job_for(
    spec: Spec, cell: Cell, data: datasets.Prepared, data_path: Path, order_path: Path | None
) -> dict[str, Any]:
    model_path = spec.model_path()
    if model_path is None:
        model = {"kind": "builtin", "name": spec.model.source.removeprefix("builtin:")}
    else:
        model = {"kind": "file", "path": str(model_path)}
    model["hidden"] = spec.model.hidden
    return {
        "cell_id": cell.id,
        "seed": cell.seed,
        "tf_version": cell.tf_version,
        "knobs": cell.knobs,
        "model": model,
        "data_path": str(data_path),
        "order_path": str(order_path) if order_path else None,
        "task": data.task,
        "n_classes": data.n_classes,
        "train": spec.train.model_dump(),
        "params": spec.params,
    }


def save_npz(store: Store, arrays: dict[str, np.ndarray]) -> Path:
    with tempfile.NamedTemporaryFile(suffix=".npz", dir=store.root, delete=False) as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]
        tmp = Path(f.name)
    sha = store.put_artifact(tmp, move=True)
    tmp.unlink(missing_ok=True)
    return store.artifact_path(sha)


def _row(
    cell: Cell, outcome: cellrun.Outcome, run_id: int, env_name: str, arrays_sha: str | None
) -> dict[str, Any]:
    res = outcome.result
    fp = dict(res.get("fingerprint") or {})
    if outcome.onednn_log is not None:
        # TF's own log line is the one indicator that every release from 2.5 on agrees
        # with; _pywrap_util_port.IsMklEnabled (kept as onednn_enabled) says False on 2.9
        # while the log says on.
        fp["onednn_log_says_on"] = outcome.onednn_log
        fp["onednn"] = outcome.onednn_log
    return {
        "cell_id": cell.id,
        "run_id": run_id,
        "experiment": cell.experiment,
        "tf_version": cell.tf_version,
        "python_version": fp.get("python") or cell.env.python_version,
        "keras_version": res.get("keras_version"),
        "numpy_version": fp.get("numpy"),
        "keras_pin": cell.keras,
        "seed": cell.seed,
        "knobs": cell.knobs,
        "env_vars": list(cell.env_vars),
        "env_name": env_name,
        "status": outcome.status,
        "reason": outcome.reason,
        "traceback": outcome.traceback,
        "data_sha256": res.get("data_sha256"),
        "init_weights_sha256": res.get("init_weights_sha256"),
        "final_weights_sha256": res.get("final_weights_sha256"),
        "metrics": res.get("metrics"),
        "epoch_metrics": res.get("epoch_metrics"),
        "timings": res.get("timings"),
        "fingerprint": fp,
        "knobs_applied": res.get("knobs_applied"),
        "optimizer_class": res.get("optimizer_class"),
        "logs": res.get("logs"),
        "arrays": arrays_sha,
        "peak_memory_mb": res.get("peak_memory_mb"),
        "wall_seconds": outcome.wall_seconds,
    }


def execute(planned: Planned, opts: Options, reporter: Reporter) -> list[str]:
    """Run every cell of the plan that the store does not have yet; returns all cell ids."""
    spec, cells, data = planned.spec, planned.cells, planned.data
    store = Store(opts.store)
    try:
        if opts.rerun:
            done: set[str] = set()
        else:
            statuses = ("ok", "diverged") if opts.retry_failed else DONE
            done = store.finished((c.id for c in cells), statuses)
        todo = [c for c in cells if c.id not in done]
        planned.skipped = [c for c in cells if c.id in done]
        envs = environments(todo)
        reporter.planned(len(cells), len(todo), len(envs))
        if not todo:
            return [c.id for c in cells]
        run_id = store.begin_run(spec.name, opts.command, spec.model_dump(mode="json"))
        data_path = save_npz(store, data.arrays)
        orders: dict[int, Path | None] = {}
        for seed in sorted({c.seed for c in todo}):
            if spec.data.shuffle == "framework":
                orders[seed] = None
            else:
                order = datasets.batch_order(
                    data.n_train, spec.train.epochs, seed, spec.data.shuffle
                )
                orders[seed] = save_npz(store, {"order": order})

        root = provision.envs_root(opts.cache)
        built: dict[str, provision.BuiltEnv] = {}
        for env in envs:
            reporter.env_started(env, provision.find(env, root) is not None)
            try:
                b = provision.ensure(env, root)
            except EnvironmentBuildError as exc:
                reporter.env_done(env, str(exc))
                for cell in (c for c in todo if c.env.key == env.key):
                    outcome = cellrun.Outcome("failed", str(exc))
                    store.record(_row(cell, outcome, run_id, env.name, None), [])
                    reporter.cell_done(cell, outcome)
                continue
            store.put_env(b.name, b.versions, b.lock, {"request": env.__dict__})
            built[env.key] = b
            reporter.env_done(env, None)

        runnable = [c for c in todo if c.env.key in built]
        work_root = store.root / "work"
        timeout = opts.timeout or spec.timeout

        def work(cell: Cell) -> cellrun.Outcome:
            job = job_for(spec, cell, data, data_path, orders[cell.seed])
            return cellrun.run_cell(
                cell,
                job,
                built[cell.env.key].python,
                work_root / f"{cell.id}-{os.getpid()}",
                timeout,
            )

        def record(cell: Cell, outcome: cellrun.Outcome) -> None:
            sha = store.put_artifact(outcome.arrays, move=True) if outcome.arrays else None
            losses = [
                float(x) if x is not None else float("nan") for x in outcome.result.get("loss", [])
            ]
            store.record(_row(cell, outcome, run_id, built[cell.env.key].name, sha), losses)
            shutil.rmtree(work_root / f"{cell.id}-{os.getpid()}", ignore_errors=True)
            reporter.cell_done(cell, outcome)

        run_pool(runnable, work, jobs=opts.jobs, on_start=reporter.cell_started, on_done=record)
        store.end_run(run_id)
        return [c.id for c in cells]
    finally:
        _clean_stale_work(store.root / "work")
        store.close()


def _clean_stale_work(work_root: Path) -> None:
    """Remove work folders of processes that no longer exist (killed runs)."""
    if not work_root.exists():
        return
    for path in work_root.iterdir():
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
