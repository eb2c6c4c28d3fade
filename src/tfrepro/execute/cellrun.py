"""The host side of one cell: write the job, run the guest runner, read what it left.

Whatever happens in the guest (exception, NaN, hang, crash by signal), the outcome is a
value with a status and a reason; nothing here raises for a failing cell.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfrepro import process, scripts
from tfrepro.plan import Cell
from tfrepro.record import Status

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


def cell_environment(cell: Cell) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB_PREFIXES)}
    env["PYTHONHASHSEED"] = str(cell.seed)
    env["PYTHONNOUSERSITE"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["TFREPRO_HOST_PID"] = str(os.getpid())  # the runner dies with this process
    env.update(dict(cell.env_vars))
    return env


def run_cell(cell: Cell, job: dict[str, Any], python: Path, work: Path, timeout: float) -> Outcome:
    work = work.resolve()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    job = {**job, "out_dir": str(work)}
    (work / "job.json").write_text(json.dumps(job))
    script = job.get("mode") == "script"
    # a script runs in its own copy of its folder: cells side by side never share files
    cwd = scripts.mirror(Path(job["script"]["cwd"]), work / "cwd") if script else work
    start = time.monotonic()
    try:
        done = process.run(
            [str(python), "-B", "-s", str(RUNNER_DIR), str(work / "job.json")],
            base_env=cell_environment(cell),
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
        info = outcome.result.setdefault("script", {})
        info["stdout_tail"] = _tail(done.stdout, 20)
        info["stderr_tail"] = _tail(done.stderr, 20)
        info.setdefault("exit_code", done.returncode)  # the runner's, if the script never ended
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
            result["status"],
            result.get("reason", ""),
            result.get("traceback"),
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
            if ev.get("event") == "log" and ev.get("name") == "loss":
                value = ev.get("value")
                losses.append(float(value) if value is not None else float("nan"))
    return {"loss": losses}


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])
