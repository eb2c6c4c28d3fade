"""Warm workers on real releases: bitwise what fresh processes give (TF 1.15, Keras 2, Keras 3
on 2.16 and the newest), the hand-over to fresh processes when a cell changes global state, a
crashed or hung worker failing only its cell, and no worker outliving a killed host."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .helpers import _base_env, cells, ok, tfrepro

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).parent.parent / "fixtures" / "warm_model.py"


def _spec(tf: str, seeds: str, fault: str = "", timeout: int = 120) -> str:
    env = f'\n[matrix.env]\nWARM_FAULT = ["{fault}"]\n' if fault else ""
    return f"""
name = "warm"
timeout = {timeout}
[model]
source = "warm_model.py"
[train]
epochs = 2
[matrix]
tf = ["{tf}"]
seeds = {seeds}
{env}"""


def _project(tmp_path: Path, spec: str) -> Path:
    shutil.copy(FIXTURE, tmp_path / "warm_model.py")
    (tmp_path / "warm.toml").write_text(spec)
    return tmp_path


def _by_seed(store: Path, cwd: Path, cache: Path) -> dict[int, dict]:
    return {c["seed"]: c for c in cells(store, cwd, cache)}


@pytest.mark.parametrize("tf", ["1.15", "2.15", "2.16", "2.21"])
def test_warm_cells_are_bitwise_the_fresh_cells(tmp_path: Path, env_cache: Path, tf: str) -> None:
    project = _project(tmp_path, _spec(tf, "[0, 1, 2]"))
    run = ("run", "warm.toml", "--jobs", "1")
    ok(tfrepro(*run, "--store", "warm", cwd=project, cache=env_cache))
    ok(tfrepro(*run, "--store", "fresh", "--fresh", cwd=project, cache=env_cache))
    warm = _by_seed(project / "warm", project, env_cache)
    fresh = _by_seed(project / "fresh", project, env_cache)
    # one worker ran the three cells in turn, each reset to what a fresh process starts from
    assert [warm[s]["worker"]["cell"] for s in (0, 1, 2)] == [1, 2, 3]
    assert len({warm[s]["worker"]["pid"] for s in (0, 1, 2)}) == 1
    assert all(fresh[s]["worker"] == {"mode": "fresh"} for s in (0, 1, 2))
    for s in (0, 1, 2):
        assert warm[s]["status"] == fresh[s]["status"] == "ok", warm[s]["reason"]
        for field in ("init_weights_sha256", "final_weights_sha256", "loss", "metrics"):
            assert warm[s][field] == fresh[s][field], (s, field)
        assert warm[s]["fingerprint"]["environment"] == fresh[s]["fingerprint"]["environment"]
    # the seeds still differ: the reset did not make every cell the same
    assert len({warm[s]["final_weights_sha256"] for s in (0, 1, 2)}) == 3
    assert warm[2]["timings"]["import"] < 0.5 < fresh[2]["timings"]["import"]


def test_a_cell_that_changes_global_state_hands_over_to_fresh_processes(
    tmp_path: Path, env_cache: Path
) -> None:
    project = _project(tmp_path, _spec("2.15", "[0, 1, 2]", fault="global:0"))
    ok(tfrepro("run", "warm.toml", "--jobs", "1", "--store", "st", cwd=project, cache=env_cache))
    by = _by_seed(project / "st", project, env_cache)
    assert by[0]["worker"]["mode"] == "warm"
    for s in (1, 2):
        assert by[s]["worker"]["mode"] == "fresh"
        assert "environment" in by[s]["worker"]["fallback"]
    ok(tfrepro("run", "warm.toml", "--store", "ref", "--fresh", cwd=project, cache=env_cache))
    ref = _by_seed(project / "ref", project, env_cache)
    assert all(by[s]["final_weights_sha256"] == ref[s]["final_weights_sha256"] for s in (0, 1, 2))


def test_a_crashed_or_hung_worker_fails_only_its_cell(tmp_path: Path, env_cache: Path) -> None:
    spec = _spec("2.15", "[0, 1, 2, 3]", fault="crash:1,hang:2", timeout=30)
    project = _project(tmp_path, spec)
    ok(tfrepro("run", "warm.toml", "--jobs", "1", "--store", "st", cwd=project, cache=env_cache))
    by = _by_seed(project / "st", project, env_cache)
    assert by[1]["status"] == "failed" and "SIGSEGV" in by[1]["reason"]
    assert by[1]["worker"]["replaced"] is True
    assert by[2]["status"] == "timeout" and "30" in by[2]["reason"]
    assert by[0]["status"] == by[3]["status"] == "ok"
    # seed 3 ran in a new worker, and gives what a fresh process gives
    assert by[3]["worker"]["mode"] == "warm" and by[3]["worker"]["pid"] != by[0]["worker"]["pid"]
    ok(tfrepro("run", "warm.toml", "--store", "ref", "--fresh", cwd=project, cache=env_cache))
    ref = _by_seed(project / "ref", project, env_cache)
    assert by[3]["final_weights_sha256"] == ref[3]["final_weights_sha256"]
    assert by[0]["final_weights_sha256"] == ref[0]["final_weights_sha256"]


def _workers_of(host_pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "--serve" in cmdline and f"-{host_pid}/boot.json" in cmdline:
                found.append(int(entry.name))
    return found


def test_warm_workers_die_with_a_killed_host(tmp_path: Path, env_cache: Path) -> None:
    project = _project(tmp_path, _spec("2.15", "[0, 1]", fault="hang:0,hang:1"))
    host = subprocess.Popen(
        [sys.executable, "-m", "tfrepro", "run", "warm.toml", "--jobs", "2", "--store", "st"],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**_base_env(), "TFREPRO_CACHE": str(env_cache)},
    )
    deadline = time.monotonic() + 120
    while len(_workers_of(host.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    workers = _workers_of(host.pid)
    assert len(workers) == 2
    host.send_signal(signal.SIGKILL)
    host.wait()
    deadline = time.monotonic() + 10
    while _workers_of(host.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _workers_of(host.pid) == []
