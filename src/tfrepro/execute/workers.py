"""Warm workers: one runner process per environment and setting, many model cells each.

A worker imports TensorFlow once and then runs the cells that differ from each other only by
their seed (same interpreter, knobs and environment variables: whatever must be set before the
import), resetting between cells (guest worker.py). What a cell gives is bitwise what a fresh
process gives (tests/integration/test_warm_workers.py); scripts always run fresh.

Failure isolation is the fresh path's: a worker that crashes or hangs fails the cell in flight
(killed at the cell timeout) and is replaced for the next cell. A worker that cannot start, or
that reports a cell changed global state it cannot reset, turns its setting over to fresh
processes for the rest of the task; each cell records how it ran (`worker` in its record).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfrepro import process
from tfrepro.envs.capabilities import has
from tfrepro.plan import Cell
from tfrepro.runner.tfrepro_guest.protocol import Boot
from tfrepro.runner.tfrepro_guest.protocol import Worker as Line


def worker_key(cell: Cell, python: Path) -> str:
    """Cells with the same key can share a worker: everything but the seed and the knobs that
    act only when the model is built (the optimizer class; XLA where it is a `compile`
    argument, TF 2.5 on) and so never touch process-wide state."""
    runtime = {"optimizer_impl"} | ({"xla"} if has(cell.tf_version, "jit_compile_arg") else set())
    knobs = {k: v for k, v in cell.knobs.items() if k not in runtime}
    return json.dumps([str(python), cell.tf_version, knobs, list(cell.env_vars)], sort_keys=True)


@dataclass
class Reply:
    """What a worker said about one cell (message None: it died or hung, see `timed_out`)."""

    message: dict[str, Any] | None
    returncode: int | None = None
    timed_out: bool = False


@dataclass
class Worker:
    key: str
    proc: subprocess.Popen[bytes]
    folder: Path
    log: Path
    ready: dict[str, Any] = field(default_factory=dict)
    cells: int = 0
    _buffer: bytes = b""

    @property
    def onednn_log(self) -> bool:
        return "oneDNN custom operations are on" in self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, job_path: Path, timeout: float) -> Reply:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps({Line.JOB: str(job_path)}) + "\n").encode())
            self.proc.stdin.flush()
        except OSError:
            return Reply(None, self.proc.wait())
        self.cells += 1
        return self.receive(timeout)

    def receive(self, timeout: float) -> Reply:
        """The worker's next line, or its death, or the timeout (the worker is then killed)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                return Reply(None, self.proc.returncode, timed_out=True)
            readable, _, _ = select.select([fd], [], [], min(left, 1.0))
            if readable:
                chunk = os.read(fd, 65536)
                if not chunk:  # it died
                    return Reply(None, self.proc.wait())
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            return Reply(json.loads(line))
        except ValueError:
            self.kill()
            return Reply(None, self.proc.returncode)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, 9)
        self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def close(self) -> None:
        """Ask it to stop (end of input), then make sure."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


class WorkerPool:
    """At most `limit` workers alive (a TensorFlow process holds 0.5 to 1 GB): an idle worker of
    another setting is closed to make room. Thread-safe; close() ends every worker."""

    def __init__(self, root: Path, limit: int) -> None:
        self.root, self.limit = root, max(1, limit)
        self.idle: list[Worker] = []
        self.busy: list[str] = []  # the keys of the workers in use (or starting)
        self.fresh_only: dict[str, str] = {}  # key -> why its cells run in fresh processes
        self.lock = threading.Lock()
        self.count = 0
        # every worker is started from this one thread, which lives as long as the pool: the
        # parent-death signal the runner asks for fires when the *thread* that started it ends
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tfrepro-spawn")

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def pick(self, keys: list[str], running: Iterable[str] = ()) -> int:
        """Which of the waiting cells (by key, in plan order) to start next: one that an idle
        worker can take; else one of a setting no worker has or is about to have (`running`:
        the keys of the cells started and not yet done), so that its import overlaps the
        others' training; else the first."""
        with self.lock:
            idle = {w.key for w in self.idle}
            started = idle | set(self.busy) | set(running)
        for rule in (lambda k: k in idle, lambda k: k not in started):
            for i, k in enumerate(keys):
                if rule(k):
                    return i
        return 0

    def fallback(self, key: str) -> str | None:
        with self.lock:
            return self.fresh_only.get(key)

    def retire(self, key: str, reason: str) -> None:
        with self.lock:
            self.fresh_only.setdefault(key, reason)

    def acquire(self, key: str, runner: list[str], env: dict[str, str], boot: dict[str, Any],
                timeout: float) -> Worker | str:  # fmt: skip
        """An idle worker of this setting, or a new one started with the runner command
        (`python … runner`; `--serve BOOT.json` is added) within `timeout` seconds; a string
        says why none could start."""
        with self.lock:
            for w in list(self.idle):
                if w.key == key:
                    self.idle.remove(w)
                    if w.alive():
                        self.busy.append(key)
                        return w
                    w.kill()
            while self.idle and len(self.idle) + len(self.busy) >= self.limit:
                self.idle.pop(0).close()
            self.busy.append(key)
            self.count += 1
            folder = self.root / f"worker-{self.count}-{os.getpid()}"
        try:
            return self._start(key, runner, env, boot, folder, timeout)
        except BaseException:
            self._gone(key)
            raise

    def _start(self, key: str, runner: list[str], env: dict[str, str], boot: dict[str, Any],
               folder: Path, timeout: float) -> Worker | str:  # fmt: skip
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / "worker.log"
        (folder / "boot.json").write_text(json.dumps({**boot, Boot.LOG: str(log)}))
        argv = [*runner, "--serve", str(folder / "boot.json")]
        try:
            # started on the spawner thread; its import is waited for here, in parallel
            proc = self._spawner.submit(
                process.spawn, argv, base_env=env, cwd=folder, stderr_path=log
            ).result()
        except OSError as exc:
            self._gone(key)
            return f"cannot start a worker with {runner[0]}: {exc}"
        worker = Worker(key, proc, folder, log)
        reply = worker.receive(timeout)
        if not reply.message or not reply.message.get(Line.READY):
            tail = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
            worker.close()
            self._gone(key)
            why = "timed out" if reply.timed_out else f"exited with code {reply.returncode}"
            return f"the warm worker did not start ({why}{': ' + tail[-1][:200] if tail else ''})"
        worker.ready = reply.message
        return worker

    def _gone(self, key: str) -> None:
        with self.lock:
            self.busy.remove(key)

    def release(self, worker: Worker, keep: bool) -> None:
        """Back to the idle list (keep) or ended (it died, hung, or retired)."""
        if keep and worker.alive():
            with self.lock:
                self.busy.remove(worker.key)
                self.idle.append(worker)
            return
        worker.close()
        self._gone(worker.key)

    def close(self) -> None:
        with self.lock:
            idle, self.idle = self.idle, []
        for w in idle:
            w.close()
        self._spawner.shutdown(wait=True)
