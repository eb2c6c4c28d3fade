"""`tfrepro run --executor ray` on a real local Ray cluster started on loopback (a head node and
one more worker node process): the same final weights as the local executor, cells spread over
both nodes, and a driver killed mid-run followed by a rerun that loses and duplicates nothing."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import _base_env, cells, ok, tfrepro

pytestmark = pytest.mark.integration
pytest.importorskip("ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    ray = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    address = f"127.0.0.1:{_free_port()}"
    port = address.rsplit(":", 1)[1]
    common = ["--num-cpus", "1", "--disable-usage-stats"]
    head = [ray, "start", "--head", "--port", port, "--include-dashboard=false", *common]
    subprocess.run(head, env=env, check=True, capture_output=True, timeout=120)
    try:
        node = [ray, "start", "--address", address, *common]
        subprocess.run(node, env=env, check=True, capture_output=True, timeout=120)
        yield address
    finally:
        subprocess.run([ray, "stop", "--force"], env=env, capture_output=True, timeout=120)


def _cells(root: Path, store: str, cache: Path) -> list[dict]:
    return cells(root / store, root, cache)


SPEC = """
name = "ray"
[train]
epochs = 2
[matrix]
tf = ["2.15", "2.16", "2.21"]
seeds = [0, 1, 2, 3]
"""


def test_ray_cells_equal_local_cells_across_two_nodes(
    tmp_path: Path, env_cache: Path, cluster: str
) -> None:
    (tmp_path / "exp.toml").write_text(SPEC)
    ray_run = ("run", "exp.toml", "--executor", "ray", "--address", cluster, "--store", "ray")
    ok(tfrepro(*ray_run, cwd=tmp_path, cache=env_cache))
    ok(tfrepro("run", "exp.toml", "--store", "local", cwd=tmp_path, cache=env_cache))
    remote = {(c["tf_version"], c["seed"]): c for c in cells(tmp_path / "ray", tmp_path, env_cache)}
    local = {
        (c["tf_version"], c["seed"]): c for c in cells(tmp_path / "local", tmp_path, env_cache)
    }
    assert len(remote) == len(local) == 12
    for key, c in remote.items():
        assert c["status"] == "ok", c["reason"]
        assert c["worker"]["executor"] == "ray"
        assert c["final_weights_sha256"] == local[key]["final_weights_sha256"], key
        assert c["loss"] == local[key]["loss"], key
    assert len({c["worker"]["node"] for c in remote.values()}) == 2  # both nodes ran cells


def test_a_killed_driver_then_a_rerun_loses_and_duplicates_nothing(
    tmp_path: Path, env_cache: Path, cluster: str
) -> None:
    (tmp_path / "exp.toml").write_text(SPEC.replace('"2.15", "2.16", "2.21"', '"2.15"'))
    argv = ["run", "exp.toml", "--executor", "ray", "--address", cluster, "--store", "st"]
    driver = subprocess.Popen(
        [sys.executable, "-m", "tfrepro", *argv],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**_base_env(), "TFREPRO_CACHE": str(env_cache)},
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:  # until the first cell is stored
        if (tmp_path / "st" / "tfrepro.sqlite").exists() and cells(
            tmp_path / "st", tmp_path, env_cache
        ):
            break
        time.sleep(0.5)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    before = cells(tmp_path / "st", tmp_path, env_cache, all_attempts=True)
    assert 1 <= len(before) < 4
    ok(tfrepro(*argv, cwd=tmp_path, cache=env_cache))
    after = cells(tmp_path / "st", tmp_path, env_cache, all_attempts=True)
    assert sorted(c["seed"] for c in after) == [0, 1, 2, 3]  # each cell exactly once
    assert all(c["status"] == "ok" for c in after)
    assert all(c["attempt"] == 1 for c in after)  # the killed run's cells were kept, not rerun
    assert {c["id"] for c in before} <= {c["id"] for c in after}
