"""tfrepro.execute.local.run_pool: bounded parallelism, every result handed back once."""

from __future__ import annotations

import threading
import time

import pytest

from tfrepro.execute.local import run_pool


class Tracker:
    def __init__(self, first_batch: int = 0) -> None:
        # the first `first_batch` items wait for each other: proof that they ran together
        self.barrier = threading.Barrier(first_batch) if first_batch else None
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.started: list[int] = []
        self.done: list[tuple[int, int]] = []
        self.done_threads: set[int] = set()

    def work(self, item: int) -> int:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        if self.barrier is not None and item < self.barrier.parties:
            self.barrier.wait(timeout=10)
        time.sleep(0.005 * (item % 3))
        with self.lock:
            self.running -= 1
        return item * item

    def on_start(self, item: int) -> None:
        self.started.append(item)

    def on_done(self, item: int, result: int) -> None:
        self.done.append((item, result))
        self.done_threads.add(threading.get_ident())


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_at_most_jobs_at_a_time_and_every_result_back(jobs: int) -> None:
    t = Tracker(first_batch=jobs)
    items = list(range(10))
    run_pool(items, t.work, jobs=jobs, on_start=t.on_start, on_done=t.on_done)
    assert t.peak == jobs  # never more, and the pool is actually used
    assert sorted(t.done) == [(i, i * i) for i in items]
    assert t.started == items  # started in the given order
    assert t.done_threads == {threading.get_ident()}  # on_done runs on the caller's thread


def test_jobs_one_preserves_order() -> None:
    t = Tracker()
    run_pool([5, 3, 8, 1], t.work, jobs=1, on_done=t.on_done)
    assert [i for i, _ in t.done] == [5, 3, 8, 1]


def test_more_jobs_than_items() -> None:
    t = Tracker()
    run_pool([1, 2], t.work, jobs=8, on_done=t.on_done)
    assert sorted(t.done) == [(1, 1), (2, 4)]
    assert t.peak <= 2


def test_zero_jobs_still_runs_one_at_a_time() -> None:
    t = Tracker()
    run_pool([1, 2, 3], t.work, jobs=0, on_done=t.on_done)
    assert t.peak == 1 and len(t.done) == 3


def test_empty_input() -> None:
    t = Tracker()
    run_pool([], t.work, jobs=2, on_done=t.on_done)
    assert t.done == []


def test_results_come_back_as_soon_as_they_exist() -> None:
    """A fast item finishing after a slow one started is recorded before the slow one ends."""
    order: list[str] = []

    def work(item: str) -> str:
        time.sleep(0.3 if item == "slow" else 0.01)
        return item

    run_pool(["slow", "fast"], work, jobs=2, on_done=lambda item, _: order.append(item))
    assert order == ["fast", "slow"]


def test_an_exception_in_work_stops_the_pool_and_propagates() -> None:
    started: list[int] = []

    def work(item: int) -> int:
        if item == 1:
            raise RuntimeError("broken item")
        time.sleep(0.01)
        return item

    with pytest.raises(RuntimeError, match="broken item"):
        run_pool(range(20), work, jobs=2, on_start=started.append, on_done=lambda i, r: None)
    assert len(started) < 20  # items after the failure were never started


def test_an_exception_in_on_done_propagates() -> None:
    def on_done(item: int, result: int) -> None:
        raise KeyError("record failed")

    with pytest.raises(KeyError):
        run_pool([1, 2, 3], lambda i: i, jobs=2, on_done=on_done)


def test_items_another_process_holds_wait_and_finished_ones_are_skipped() -> None:
    asked: dict[int, int] = {}
    ticks: list[int] = []

    def ready(item: int) -> str:
        asked[item] = asked.get(item, 0) + 1
        if item == 1:
            return "skip"  # finished meanwhile elsewhere
        if item == 2 and asked[item] < 3:
            return "wait"  # held by another run for two polls
        return "run"

    done: list[int] = []
    run_pool(
        [0, 1, 2, 3],
        lambda i: i * 10,
        jobs=1,
        on_done=lambda i, r: done.append(r),
        ready=ready,
        tick=lambda: ticks.append(1),
        poll=0.01,
    )
    assert sorted(done) == [0, 20, 30] and asked[2] == 3 and asked[1] == 1
    assert ticks  # the heartbeat ran while items waited
