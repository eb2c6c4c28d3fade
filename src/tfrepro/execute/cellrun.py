"""The host side of one cell: write the job, run the guest runner, read what it left.

Whatever happens in the guest (exception, NaN, hang, crash by signal), the outcome is a
value with a status and a reason; nothing here raises for a failing cell.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfrepro import process, scripts
from tfrepro.execute.workers import WorkerPool, worker_key
from tfrepro.plan import Cell
from tfrepro.record import Status
from tfrepro.runner.tfrepro_guest.protocol import (
    Boot,
    Event,
    Job,
    Kind,
    Result,
    ScriptInfo,
    ScriptSpec,
    Worker,
)

RUNNER_DIR = Path(__file__).resolve().parents[1] / "runner"  # run by path inside each env
# Variables that change TensorFlow's numerics: never inherited from the user's shell, only
# set from knobs or the spec's env axis, so that a cell means the same thing everywhere.
_SCRUB_PREFIXES = (
    "TF_",
    "CUDA_VISIBLE_DEVICES",
    "OMP_",
    "KMP_",
    "MKL_",
    "PYTHONPATH",
    "PYTHONHASHSEED",
    "PYTHONHOME",
    "VIRTUAL_ENV",
)


@dataclass
class Outcome:
    status: str  # a record.Status value
    reason: str = ""
    traceback: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    arrays: Path | None = None
    wall_seconds: float = 0.0
    onednn_log: bool | None = None


def cell_environment(cell: Cell, script: bool = False) -> dict[str, str]:
    """The runner's environment. Python's string hashing is seeded with the cell's seed for a
    script (its own process, as it would run bare) and fixed for model cells, which share warm
    workers across seeds: a worker cannot change it after it started."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB_PREFIXES)}
    env["PYTHONHASHSEED"] = str(cell.seed) if script else "0"
    env["PYTHONNOUSERSITE"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["TFREPRO_HOST_PID"] = str(os.getpid())  # the runner dies with this process
    env.update(dict(cell.env_vars))
    return env


def run_cell(
    cell: Cell,
    job: dict[str, Any],
    python: Path,
    work: Path,
    timeout: float,
    workers: WorkerPool | None = None,
) -> Outcome:
    """One cell: in a warm worker when a pool is given and the cell is a model cell (falling
    back to a fresh process when its setting cannot use one), else in a fresh process."""
    work = work.resolve()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    job = {**job, Job.OUT_DIR: str(work)}
    (work / "job.json").write_text(json.dumps(job))
    script = job.get(Job.KIND) == Kind.SCRIPT
    fallback = None
    if workers is not None and not script:
        warm = _run_warm(cell, python, work, timeout, workers)
        if isinstance(warm, Outcome):
            return warm
        fallback = warm
    outcome = _run_fresh(cell, job, python, work, timeout, script)
    outcome.result.setdefault(Result.WORKER, {Worker.MODE: Worker.FRESH})
    if fallback:
        outcome.result[Result.WORKER]["fallback"] = fallback
    return outcome


def _run_warm(
    cell: Cell, python: Path, work: Path, timeout: float, workers: WorkerPool
) -> Outcome | str:
    """The cell in a warm worker, or why it must run fresh."""
    key = worker_key(cell, python)
    why = workers.fallback(key)
    if why:
        return why
    boot = {Boot.TF_VERSION: cell.tf_version, Boot.KNOBS: cell.knobs}
    runner = [str(python), "-B", "-s", str(RUNNER_DIR)]
    got = workers.acquire(key, runner, cell_environment(cell), boot, timeout)
    if isinstance(got, str):
        workers.retire(key, got)
        return got
    start = time.monotonic()
    reply = got.send(work / "job.json", timeout)
    wall = round(time.monotonic() - start, 3)
    done = process.Completed(
        (),
        0 if reply.message is not None else (reply.returncode or 0),
        _read(work / "stdout.txt"),
        _read(work / "stderr.txt"),
        reply.timed_out,
    )
    if reply.message is None and not reply.timed_out and done.returncode == 0:
        done = dataclasses.replace(done, returncode=1)  # it closed its pipe: still a crash
    outcome = _outcome(done, work, timeout, wall, got.onednn_log)
    retire = (reply.message or {}).get(Worker.RETIRE)
    if retire:
        workers.retire(key, str(retire))
    workers.release(got, keep=reply.message is not None and not retire)
    info = outcome.result.setdefault(Result.WORKER, {Worker.MODE: Worker.WARM, "pid": got.proc.pid})
    if reply.message is None:
        info["replaced"] = True  # the worker died or hung with this cell: the next gets a new one
    return outcome


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _run_fresh(
    cell: Cell, job: dict[str, Any], python: Path, work: Path, timeout: float, script: bool
) -> Outcome:
    # a script runs in its own copy of its folder: cells side by side never share files
    cwd = scripts.mirror(Path(job[Job.SCRIPT][ScriptSpec.CWD]), work / "cwd") if script else work
    start = time.monotonic()
    try:
        done = process.run(
            [str(python), "-B", "-s", str(RUNNER_DIR), str(work / "job.json")],
            base_env=cell_environment(cell, script),
            cwd=cwd,
            timeout=timeout,
            stdout_path=work / "stdout.txt",
            stderr_path=work / "stderr.txt",
        )
    except OSError as exc:
        return Outcome(
            Status.FAILED,
            f"cannot start the environment's python {python}: {exc} "
            f"(rebuild it: `tfrepro envs prune --all`, then run again)",
        )
    wall = round(time.monotonic() - start, 3)
    onednn = "oneDNN custom operations are on" in done.stderr
    outcome = _outcome(done, work, timeout, wall, onednn)
    if script:
        # the script's own output, as the user would have seen it (last lines)
        info = outcome.result.setdefault(Result.SCRIPT, {})
        info["stdout_tail"] = _tail(done.stdout, 20)
        info["stderr_tail"] = _tail(done.stderr, 20)
        # the runner's, if the script never ended
        info.setdefault(ScriptInfo.EXIT_CODE, done.returncode)
    return outcome


def _outcome(
    done: process.Completed, work: Path, timeout: float, wall: float, onednn: bool
) -> Outcome:
    arrays = work / "arrays.npz"
    arrays_path = arrays if arrays.exists() else None
    result_file = work / "result.json"
    if done.timed_out:
        partial = _partial(work)
        return Outcome(
            Status.TIMEOUT,
            f"exceeded the cell timeout of {timeout:g} s",
            _tail(done.stderr),
            partial,
            arrays_path,
            wall,
            onednn,
        )
    if result_file.exists():
        result = json.loads(result_file.read_text())
        return Outcome(
            result[Result.STATUS],
            result.get(Result.REASON, ""),
            result.get(Result.TRACEBACK),
            result,
            arrays_path,
            wall,
            onednn,
        )
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        reason = f"the runner crashed with {name} (exit {128 - done.returncode})"
    else:
        reason = f"the runner exited with code {done.returncode} without a result"
    last = [ln for ln in done.stderr.splitlines() if ln.strip()]
    if last:
        reason += f": {last[-1].strip()[:300]}"
    return Outcome(
        Status.FAILED, reason, _tail(done.stderr), _partial(work), arrays_path, wall, onednn
    )


def _partial(work: Path) -> dict[str, Any]:
    """What the events say about a cell that never wrote its result (crash or timeout)."""
    losses: list[float] = []
    events = work / "events.jsonl"
    if events.exists():
        for line in events.read_text().splitlines():
            try:
                ev = json.loads(line)
            except ValueError:
                continue  # the last line of a killed process may be cut
            if ev.get("event") == Event.LOG and ev.get("name") == "loss":
                value = ev.get("value")
                losses.append(float(value) if value is not None else float("nan"))
    return {Result.LOSS: losses}


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])
