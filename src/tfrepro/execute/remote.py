"""The Ray executor (`tfrepro run --executor ray [--address ADDR]`, extra `tfrepro[ray]`).

Ray cannot run inside old environments (TF 1.15 needs Python 3.7), so each cell is a Ray task
on the driver's Python that makes sure the cell's environment exists on its node (built there
with uv and cached, as locally) and runs the runner with that environment's interpreter through
the same code as the local executor (cellrun.run_cell: per-cell timeout, crashes and failures
become the cell's status). The outcome comes back to the driver, the arrays as bytes, and is
stored as soon as it arrives; resume and claims are the driver's, as for a local run. A killed
driver takes its tasks with it (Ray ends a dead driver's tasks; the runner dies with the Ray
worker that started it), and a rerun runs only what is missing.

Limit: a job names its inputs (data arrays, batch orders) by path in the store folder, so the
store must be at the same path on every node (one machine, or a shared filesystem).
"""

from __future__ import annotations

import logging
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any

from tfrepro.errors import UsageError
from tfrepro.execute import cellrun
from tfrepro.plan import Cell
from tfrepro.runner.tfrepro_guest.protocol import Result, Worker


class RayExecutor:
    def __init__(self, address: str | None, cache: Path | None) -> None:
        try:
            import ray
        except ImportError:
            raise UsageError(
                "--executor ray needs Ray: install it with `pip install 'tfrepro[ray]'`"
            ) from None
        self.ray = ray
        self.cache = str(cache) if cache else None
        where = address or "auto"
        if address and not _reachable(address):  # ray.init would retry for minutes
            raise UsageError(
                f"--address {address}: no Ray cluster answers there; start one with "
                f"`ray start --head` or pass its address (host:port)"
            )
        try:
            ray.init(address=where, log_to_driver=False, logging_level=logging.ERROR)
        except Exception as exc:
            raise UsageError(
                f"--address {where}: cannot connect to a Ray cluster ({str(exc)[:200]}); start "
                f"one with `ray start --head` or pass its address"
            ) from None
        self._task = ray.remote(num_cpus=1, max_retries=0)(_run_on_node)

    @property
    def slots(self) -> int:
        """Cells the cluster can run at once (one CPU each)."""
        return max(1, int(self.ray.cluster_resources().get("CPU", 1)))

    def run(self, cell: Cell, job: dict[str, Any], work: Path, timeout: float) -> cellrun.Outcome:
        outcome, arrays = self.ray.get(self._task.remote(cell, job, self.cache, timeout))
        if arrays is not None:
            work.mkdir(parents=True, exist_ok=True)
            (work / "arrays.npz").write_bytes(arrays)
            outcome.arrays = work / "arrays.npz"
        return outcome

    def close(self) -> None:
        self.ray.shutdown()


def _reachable(address: str, seconds: float = 5.0) -> bool:
    """Whether something listens at host:port (a `ray://` client address is left to Ray)."""
    if "://" in address:
        return True
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=seconds):
            return True
    except (OSError, ValueError):
        return False


def _run_on_node(
    cell: Cell, job: dict[str, Any], cache: str | None, timeout: float
) -> tuple[cellrun.Outcome, bytes | None]:
    """On a Ray worker: the cell's environment (built here if missing), then the cell."""
    import ray

    from tfrepro.envs import provision
    from tfrepro.errors import EnvironmentBuildError
    from tfrepro.record import Status

    node = ray.get_runtime_context().get_node_id()
    try:
        env = provision.ensure(cell.env, provision.envs_root(Path(cache) if cache else None))
    except EnvironmentBuildError as exc:
        return cellrun.Outcome(Status.FAILED, f"{exc} (on Ray node {node})"), None
    folder = Path(tempfile.mkdtemp(prefix="tfrepro-ray-"))
    try:
        outcome = cellrun.run_cell(cell, job, env.python, folder / "cell", timeout)
        arrays = outcome.arrays.read_bytes() if outcome.arrays else None
        outcome.arrays = None
        outcome.result.setdefault(Result.WORKER, {Worker.MODE: Worker.FRESH})
        outcome.result[Result.WORKER].update(executor="ray", node=node)
        return outcome, arrays
    finally:
        shutil.rmtree(folder, ignore_errors=True)
