"""tfrepro.execute.cellrun: every way a runner can end becomes an Outcome, never an exception.

The guest runner is replaced by a tiny Python script (a folder with __main__.py, exactly how
the real runner is started) that does what its job tells it: write a result, exit, die by a
signal, or hang.
"""

from __future__ import annotations

import json
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tfrepro.envs.request import EnvRequest
from tfrepro.execute import cellrun
from tfrepro.plan import Cell

FAKE_RUNNER = textwrap.dedent(
    """
    import json, os, signal, subprocess, sys, time

    job = json.load(open(sys.argv[1]))
    out = job["out_dir"]
    act = job["act"]

    def event(**ev):
        with open(os.path.join(out, "events.jsonl"), "a") as f:
            f.write(json.dumps(ev) + "\\n")

    def result(**res):
        with open(os.path.join(out, "result.json.tmp"), "w") as f:
            json.dump(res, f)
        os.replace(os.path.join(out, "result.json.tmp"), os.path.join(out, "result.json"))

    event(event="log", name="loss", value=2.0)
    event(event="log", name="loss", value=None)
    event(event="log", name="accuracy", value=0.5)
    if act == "ok":
        sys.stderr.write("I tensorflow: oneDNN custom operations are on.\\n")
        with open(os.path.join(out, "arrays.npz"), "wb") as f:
            f.write(b"arrays")
        env = {k: os.environ.get(k) for k in
               ("PYTHONHASHSEED", "TF_DETERMINISTIC_OPS", "OMP_NUM_THREADS", "MY_KNOB",
                "PYTHONNOUSERSITE")}
        result(status="ok", loss=[2.0, 1.0], env=env, argv=sys.argv, cwd=os.getcwd(),
               seed=job["seed"])
    elif act == "diverged":
        result(status="diverged", reason="loss became nan at step 2", loss=[2.0, None])
    elif act == "failed":
        result(status="failed", reason="ValueError: bad shape", traceback="Traceback (most...)")
    elif act == "exit":
        sys.stderr.write("something went wrong\\nfatal: out of cheese\\n")
        sys.exit(3)
    elif act == "signal":
        with open(os.path.join(out, "events.jsonl"), "a") as f:
            f.write('{"event": "log", "name": "loss", "val')  # cut mid-line by the crash
        sys.stderr.write("about to crash\\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    elif act == "hang":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        with open(os.path.join(out, "child.pid"), "w") as f:
            f.write(str(child.pid))
        sys.stderr.write("hanging\\n")
        sys.stderr.flush()
        time.sleep(120)
    """
)


@pytest.fixture
def fake_runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    runner = tmp_path / "fake_runner"
    runner.mkdir()
    (runner / "__main__.py").write_text(FAKE_RUNNER)
    monkeypatch.setattr(cellrun, "RUNNER_DIR", runner)
    return runner


def make_cell(seed: int = 7, env_vars: tuple[tuple[str, str], ...] = ()) -> Cell:
    env = EnvRequest(
        "tensorflow-cpu",
        "2.16.2",
        sys.executable,
        "3.11.7",
        "era",
        None,
        ("tensorflow-cpu==2.16.2",),
    )
    return Cell("cell0001", "2.16.2", seed, {"threads": 1}, None, env_vars, env, "exp")


def run(act: str, work: Path, timeout: float = 60, **kw: Any) -> cellrun.Outcome:
    cell = make_cell(**kw)
    return cellrun.run_cell(
        cell, {"act": act, "seed": cell.seed}, Path(sys.executable), work, timeout
    )


def test_result_file_becomes_the_outcome(fake_runner: Path, tmp_path: Path) -> None:
    work = tmp_path / "work" / "c1"
    out = run("ok", work)
    assert out.status == "ok"
    assert out.result["loss"] == [2.0, 1.0]
    assert out.arrays is not None and out.arrays.resolve() == (work / "arrays.npz").resolve()
    assert out.arrays.read_bytes() == b"arrays"
    assert out.onednn_log is True
    assert out.wall_seconds > 0
    job = json.loads((out.arrays.parent / "job.json").read_text())
    assert job["act"] == "ok" and Path(job["out_dir"]).resolve() == work.resolve()
    assert Path(out.result["cwd"]).resolve() == work.resolve()


def test_runner_environment_is_scrubbed_and_set_from_the_cell(
    fake_runner: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TF_DETERMINISTIC_OPS", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "16")
    monkeypatch.setenv("PYTHONHASHSEED", "123")
    out = run("ok", tmp_path / "w", seed=42, env_vars=(("MY_KNOB", "x"), ("OMP_NUM_THREADS", "2")))
    assert out.result["env"] == {
        "PYTHONHASHSEED": "0",  # fixed for model cells: warm workers share it across seeds
        "TF_DETERMINISTIC_OPS": None,
        "OMP_NUM_THREADS": "2",
        "MY_KNOB": "x",
        "PYTHONNOUSERSITE": "1",
    }


def test_cell_environment_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    monkeypatch.setenv("VIRTUAL_ENV", "/some/venv")
    monkeypatch.setenv("HOME_LIKE_VAR", "kept")
    env = cellrun.cell_environment(make_cell(seed=3))
    assert "TF_CPP_MIN_LOG_LEVEL" not in env and "CUDA_VISIBLE_DEVICES" not in env
    assert "VIRTUAL_ENV" not in env
    assert env["HOME_LIKE_VAR"] == "kept"
    assert env["PYTHONHASHSEED"] == "0"
    assert cellrun.cell_environment(make_cell(seed=3), script=True)["PYTHONHASHSEED"] == "3"


@pytest.mark.parametrize(
    ("act", "status", "reason"),
    [
        ("diverged", "diverged", "loss became nan at step 2"),
        ("failed", "failed", "ValueError: bad shape"),
    ],
)
def test_guest_reported_statuses_pass_through(
    fake_runner: Path, tmp_path: Path, act: str, status: str, reason: str
) -> None:
    out = run(act, tmp_path / "w")
    assert (out.status, out.reason) == (status, reason)
    assert out.arrays is None and out.onednn_log is False
    if act == "failed":
        assert out.traceback == "Traceback (most...)"


def test_exit_without_result_is_a_failure_with_stderr(fake_runner: Path, tmp_path: Path) -> None:
    out = run("exit", tmp_path / "w")
    assert out.status == "failed"
    assert out.reason.startswith("the runner exited with code 3 without a result")
    assert out.traceback is not None and "fatal: out of cheese" in out.traceback
    # what the events said before the end is kept; a null loss is NaN
    assert out.result["loss"][0] == 2.0 and out.result["loss"][1] != out.result["loss"][1]


def test_death_by_signal_is_a_failure_naming_the_signal(fake_runner: Path, tmp_path: Path) -> None:
    out = run("signal", tmp_path / "w")
    assert out.status == "failed"
    assert out.reason.startswith("the runner crashed with SIGKILL (exit 137)")
    assert out.traceback is not None and "about to crash" in out.traceback
    assert len(out.result["loss"]) == 2  # the cut last line is skipped, not an error


def test_timeout_kills_the_whole_process_group(fake_runner: Path, tmp_path: Path) -> None:
    work = tmp_path / "w"
    start = time.monotonic()
    out = run("hang", work, timeout=1.5)
    assert time.monotonic() - start < 30
    assert out.status == "timeout"
    assert out.reason == "exceeded the cell timeout of 1.5 s"
    assert out.traceback is not None and "hanging" in out.traceback
    assert len(out.result["loss"]) == 2
    child = int((work / "child.pid").read_text())
    assert _gone(child), "the runner's own child process survived the timeout"


def _gone(pid: int, wait: float = 10.0) -> bool:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def test_a_stale_work_folder_is_emptied_first(fake_runner: Path, tmp_path: Path) -> None:
    work = tmp_path / "w"
    work.mkdir()
    (work / "result.json").write_text(json.dumps({"status": "ok"}))
    (work / "arrays.npz").write_bytes(b"old")
    out = run("exit", work)
    assert out.status == "failed"  # the old result.json was not read
    assert out.arrays is None


def test_missing_interpreter_is_reported_not_raised(fake_runner: Path, tmp_path: Path) -> None:
    """An environment whose python vanished: the cell fails, the run goes on."""
    out = cellrun.run_cell(
        make_cell(), {"act": "ok", "seed": 1}, tmp_path / "no-python", tmp_path / "w", 10
    )
    assert out.status == "failed"
    assert "no-python" in out.reason


def test_the_runner_it_starts_is_the_guest_package() -> None:
    # run by path (`python RUNNER_DIR job.json`): the folder must hold the guest's entry point
    assert (cellrun.RUNNER_DIR / "__main__.py").is_file()
    assert (cellrun.RUNNER_DIR / "tfrepro_guest" / "job.py").is_file()
