"""Killed and concurrent runs on real releases: runners die with a `kill -9`-ed host, two runs
on one store never run a cell twice, and a killed run's claims are taken over."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .helpers import _base_env, cells, ok, tfrepro

pytestmark = pytest.mark.integration

SLOW = """import os, time
import tensorflow as tf
if os.path.exists("slow"):
    time.sleep(600)
m = tf.keras.Sequential([tf.keras.layers.Input((3,)), tf.keras.layers.Dense(1)])
m.compile("sgd", "mse")
m.fit(tf.ones((8, 3)), tf.ones((8, 1)), epochs=1, verbose=0)
"""


def _start(*args: str | Path, cwd: Path, cache: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tfrepro", *map(str, args)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**_base_env(), "TFREPRO_CACHE": str(cache), "COLUMNS": "200"},
    )


def _runners(host_pid: int) -> list[int]:
    """Runner processes started by this host process (their job is in <cell>-<host pid>/)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if f"-{host_pid}/job.json" in cmdline:
            found.append(int(entry.name))
    return found


def test_kill_9_leaves_no_runner_and_the_next_run_takes_over(
    tmp_path: Path, env_cache: Path
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "slow_train.py").write_text(SLOW)
    (project / "slow").write_text("")
    store = tmp_path / "store"
    args = ["run", "--tf", "2.15", "--seeds", "0,1", "--jobs", "2", "--store", store,
            "--", "python", "slow_train.py"]  # fmt: skip
    host = _start(*args, cwd=project, cache=env_cache)
    deadline = time.monotonic() + 600
    while len(_runners(host.pid)) < 2:
        assert host.poll() is None, host.communicate()
        assert time.monotonic() < deadline, "the runners never started"
        time.sleep(0.5)
    runners = _runners(host.pid)
    host.send_signal(signal.SIGKILL)
    host.communicate()
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{p}").exists() and _zombie_free(p) for p in runners):
        assert time.monotonic() < deadline, f"runners outlived the host: {runners}"
        time.sleep(0.2)

    # the killed run's claims are taken over at once (its process is gone): nothing is lost,
    # nothing recorded twice
    (project / "slow").unlink()
    done = ok(tfrepro(*args, cwd=project, cache=env_cache))
    assert "2 to run" in done.stdout
    every = cells(store, project, env_cache, all_attempts=True)
    assert sorted((c["seed"], c["attempt"], c["status"]) for c in every) == [
        (0, 1, "ok"),
        (1, 1, "ok"),
    ]


def _zombie_free(pid: int) -> bool:
    """True while the process exists and is not a zombie awaiting its (dead) parent's reap."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status


def test_two_concurrent_runs_of_one_matrix_run_each_cell_once(
    tmp_path: Path, env_cache: Path
) -> None:
    store = tmp_path / "store"
    args = ["run", "--tf", "2.15", "--seeds", "0..3", "--jobs", "1", "--store", store]
    ok(tfrepro("envs", "build", "--tf", "2.15", cwd=tmp_path, cache=env_cache))
    first = _start(*args, cwd=tmp_path, cache=env_cache)
    second = _start(*args, cwd=tmp_path, cache=env_cache)
    outs = [p.communicate(timeout=900) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], [
        (o[0][-1500:], o[1][-1500:]) for o in outs
    ]
    every = cells(store, tmp_path, env_cache, all_attempts=True)
    assert sorted(c["seed"] for c in every) == [0, 1, 2, 3]  # each cell once, attempt 1
    assert all(c["attempt"] == 1 and c["status"] == "ok" for c in every)
    # the runs shared the work: each says which cells the other one finished
    skipped = sum(out.count("finished meanwhile by another run") for out, _ in outs)
    ran = sum(out.count(" ok tf 2.15") for out, _ in outs)
    assert ran == 4 and skipped >= 1, outs
