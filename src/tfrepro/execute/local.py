"""A local pool: each item runs in a thread that waits on its own child process."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def run_pool(
    items: Iterable[T],
    work: Callable[[T], R],
    *,
    jobs: int,
    on_start: Callable[[T], None] | None = None,
    on_done: Callable[[T, R], None],
    ready: Callable[[T], str] | None = None,
    tick: Callable[[], None] | None = None,
    poll: float = 1.0,
    pick: Callable[[list[T]], int] | None = None,
) -> None:
    """Run `work` over items with at most `jobs` at a time; `on_done` runs on the caller's thread.

    Results are handed back in completion order so the caller can record each one as soon
    as it exists (a later crash of the host then loses only the items still in flight).
    `ready(item)`, asked on the caller's thread just before an item would start, says "run",
    "skip" (drop it) or "wait" (ask again after `poll` seconds: e.g. another process holds it).
    `tick()` runs on the caller's thread at least every `poll` seconds while items run or wait.
    `pick(pending)` chooses which pending item starts next (by index; default the first).
    """
    pending = list(items)
    waiting: list[T] = []
    running: dict[Future[R], T] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        try:
            while pending or running or waiting:
                while pending and len(running) < max(1, jobs):
                    item = pending.pop(pick(pending) if pick else 0)
                    state = ready(item) if ready else "run"
                    if state == "wait":
                        waiting.append(item)
                        continue
                    if state == "skip":
                        continue
                    if on_start:
                        on_start(item)
                    running[pool.submit(work, item)] = item
                timeout = poll if (waiting or tick) else None
                if running:
                    done, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
                else:
                    done = set()
                    time.sleep(poll)
                for fut in done:
                    item = running.pop(fut)
                    on_done(item, fut.result())
                if tick:
                    tick()
                if waiting and not pending:
                    pending, waiting = waiting, []
        except BaseException:
            for fut in running:
                fut.cancel()
            raise


def map_parallel(items: Iterable[T], work: Callable[[T], R], *, jobs: int) -> list[R]:
    """`work` over items, at most `jobs` at a time; the results in the items' order."""
    items = list(items)
    results: dict[int, R] = {}
    run_pool(
        range(len(items)),
        lambda i: work(items[i]),
        jobs=jobs,
        on_done=lambda i, r: results.__setitem__(i, r),
    )
    return [results[i] for i in range(len(items))]


GB_PER_JOB = 1.5  # a TensorFlow process with a small model: 0.5 to 1 GB resident, and headroom


def default_jobs() -> int:
    """Cells at once by default: one per core, at most one per GB_PER_JOB of available memory
    (Linux: MemAvailable; elsewhere the cores alone)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    jobs = max(1, cores or 1)
    try:
        with open("/proc/meminfo") as f:
            fields = dict(line.split(":", 1) for line in f)
        available_gb = int(fields["MemAvailable"].split()[0]) / 1024**2
    except (OSError, KeyError, ValueError):
        return jobs
    return max(1, min(jobs, int(available_gb / GB_PER_JOB)))
