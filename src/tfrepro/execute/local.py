"""A local pool: each item runs in a thread that waits on its own child process."""

from __future__ import annotations

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
) -> None:
    """Run `work` over items with at most `jobs` at a time; `on_done` runs on the caller's thread.

    Results are handed back in completion order so the caller can record each one as soon
    as it exists (a later crash of the host then loses only the items still in flight).
    """
    pending = list(items)
    pending.reverse()
    running: dict[Future[R], T] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        try:
            while pending or running:
                while pending and len(running) < max(1, jobs):
                    item = pending.pop()
                    if on_start:
                        on_start(item)
                    running[pool.submit(work, item)] = item
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    item = running.pop(fut)
                    on_done(item, fut.result())
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
