"""envs.provision: the exact uv command lines of an environment build, where the environment ends
up, what a failed step leaves behind, and the cache. uv and the new interpreter are replaced by
recording fakes (tfrepro.process.uv / run); nothing is installed."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tfrepro import process
from tfrepro.envs import provision
from tfrepro.envs.catalogue import Catalogue
from tfrepro.envs.interpreters import Interpreter
from tfrepro.envs.request import EnvRequest, env_request
from tfrepro.errors import EnvironmentBuildError

# conftest replaces these with guards for every test; the module's own, taken at import
REAL_ENSURE = provision.ensure
REAL_BUILD = provision._build

PYTHON = Interpreter("/opt/python3.11/bin/python3.11", "3.11.7")
VERSIONS = {"python": "3.11.7", "tensorflow": "2.15.1", "numpy": "1.26.4", "keras": "2.15.0"}
FROZEN = "tensorflow-cpu==2.15.1\nnumpy==1.26.4\n\nabsl-py==2.1.0\n"


class FakeUv:
    """Records every uv and interpreter command; answers like a successful build unless told
    to fail at a step (the first argv item after `uv`, or "verify")."""

    def __init__(self, fail: str | None = None) -> None:
        self.fail = fail
        self.uv_calls: list[list[str]] = []
        self.run_calls: list[list[str]] = []

    def uv(self, args: list[str], **kwargs: Any) -> process.Completed:
        args = [str(a) for a in args]
        self.uv_calls.append(args)
        argv = ("uv", *args)
        step = "no-deps" if "--no-deps" in args else " ".join(args[:2])
        if self.fail in (args[0], step):
            return process.Completed(
                argv, 1, "", "Resolved 3 packages\n  × No solution found\n  ╰─▶ Because x\n"
            )
        if args[0] == "venv":
            Path(args[-1], "bin").mkdir(parents=True)
        if args[:2] == ["pip", "freeze"]:
            return process.Completed(argv, 0, FROZEN, "")
        return process.Completed(argv, 0, "", "")

    def run(self, argv: list[str], **kwargs: Any) -> process.Completed:
        argv = [str(a) for a in argv]
        self.run_calls.append(argv)
        if self.fail == "verify":
            return process.Completed(tuple(argv), 1, "", "ImportError: no module tensorflow\n")
        out = "a warning line\nTFREPRO-VERIFY " + json.dumps(VERSIONS) + "\n"
        return process.Completed(tuple(argv), 0, out, "")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeUv:
    monkeypatch.setattr(provision, "ensure", REAL_ENSURE)
    monkeypatch.setattr(provision, "_build", REAL_BUILD)
    fake = FakeUv()
    monkeypatch.setattr(process, "uv", fake.uv)
    monkeypatch.setattr(process, "run", fake.run)
    return fake


def request(
    cat: Catalogue,
    tf: str,
    resolution: str = "era",
    *,
    keras: str | None = None,
    legacy_keras: bool = False,
    device: str = "cpu",
    requirements: tuple[str, ...] = (),
) -> EnvRequest:
    (release,) = cat.resolve(tf)
    return env_request(
        cat,
        release,
        PYTHON,
        resolution,
        keras=keras,
        legacy_keras=legacy_keras,
        device=device,
        requirements=requirements,
    )


def day_after(stamp: str) -> str:
    when = datetime.fromisoformat(stamp.replace("Z", "+00:00")) + timedelta(days=1)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def building(root: Path, req: EnvRequest) -> Path:
    return root / f".{req.name}.building-{os.getpid()}"


def install(root: Path, req: EnvRequest, *extra: str) -> list[str]:
    py = str(building(root, req) / "bin" / "python")
    return ["pip", "install", "--quiet", "--compile-bytecode", "--python", py, *extra]


def test_an_era_build_runs_exactly_these_commands(
    fake: FakeUv, cat: Catalogue, tmp_path: Path
) -> None:
    req = request(cat, "2.15", requirements=("pandas==2.0.3",))
    release = cat.by_version["2.15.1"]
    era = day_after(release.uploaded)
    assert era == "2024-03-09T23:48:18Z"
    root = tmp_path / "envs"
    root.mkdir()
    built = provision.ensure(req, root)
    tmp = building(root, req)
    py = str(tmp / "bin" / "python")
    assert fake.uv_calls == [
        ["venv", "--quiet", "--relocatable", "--python", PYTHON.path, str(tmp)],
        [*install(root, req), "--exclude-newer", era, "tensorflow-cpu==2.15.1", "pandas==2.0.3"],
        ["pip", "freeze", "--python", py],
    ]
    assert len(fake.run_calls) == 1
    assert fake.run_calls[0][:2] == [py, "-c"]
    assert "TFREPRO-VERIFY" in fake.run_calls[0][2]
    # renamed into place under its name, with its meta
    final = root / req.name
    assert built.path == final
    assert built.name == req.name
    assert built.python == final / "bin" / "python"
    assert built.versions == VERSIONS
    assert built.lock == ["absl-py==2.1.0", "numpy==1.26.4", "tensorflow-cpu==2.15.1"]
    assert not tmp.exists()
    meta = json.loads((final / provision.META).read_text())
    assert meta["versions"] == VERSIONS
    assert meta["lock"] == built.lock
    assert meta["request"] == json.loads(json.dumps(asdict(req)))
    assert meta["request"]["exclude_newer"] == era
    assert provision.find(req, root) == built


def test_legacy_keras_on_2_16_installs_tf_keras_without_its_dependencies(
    fake: FakeUv, cat: Catalogue, tmp_path: Path
) -> None:
    req = request(cat, "2.16.1", legacy_keras=True)
    # tf-keras 2.16.0 came out after TF 2.16.1: the era moves to the day after it
    tf_keras = cat.companions["tf-keras"]["2.16.0"]
    assert tf_keras > cat.by_version["2.16.1"].uploaded
    era = day_after(tf_keras)
    assert req.exclude_newer == era
    provision.ensure(req, tmp_path)
    assert fake.uv_calls[1:3] == [
        [*install(tmp_path, req), "--exclude-newer", era, "tensorflow-cpu==2.16.1"],
        [*install(tmp_path, req), "--exclude-newer", era, "--no-deps", "tf-keras~=2.16.0"],
    ]
    assert [c[:2] for c in fake.uv_calls] == [
        ["venv", "--quiet"],
        ["pip", "install"],
        ["pip", "install"],
        ["pip", "freeze"],
    ]


def test_legacy_keras_before_2_16_adds_nothing(
    fake: FakeUv, cat: Catalogue, tmp_path: Path
) -> None:
    req = request(cat, "2.15", legacy_keras=True)
    provision.ensure(req, tmp_path)
    assert not any("--no-deps" in c for c in fake.uv_calls)
    assert not any(a.startswith("tf-keras") for c in fake.uv_calls for a in c)


def test_a_keras_pin_is_installed_with_tensorflow(
    fake: FakeUv, cat: Catalogue, tmp_path: Path
) -> None:
    req = request(cat, "2.16.2", keras="3.3.3")
    provision.ensure(req, tmp_path)
    assert fake.uv_calls[1][-2:] == ["tensorflow-cpu==2.16.2", "keras==3.3.3"]


@pytest.mark.parametrize(
    ("tf", "caps"),
    [
        ("2.5", ["protobuf<4", "numpy<2"]),
        ("2.11", ["numpy<2"]),
        ("2.12", []),
    ],
)
def test_latest_has_no_date_and_caps_old_releases(
    fake: FakeUv, cat: Catalogue, tmp_path: Path, tf: str, caps: list[str]
) -> None:
    req = request(cat, tf, "latest", requirements=("scipy<2",))
    (release,) = cat.resolve(tf)
    provision.ensure(req, tmp_path)
    install_call = fake.uv_calls[1]
    assert "--exclude-newer" not in install_call
    assert install_call == [
        *install(tmp_path, req),
        f"{release.package}=={release.version}",
        *caps,
        "scipy<2",
    ]
    assert (
        json.loads((tmp_path / req.name / provision.META).read_text())["request"]["exclude_newer"]
        is None
    )


def test_gpu_on_2_15_installs_the_cuda_extra(fake: FakeUv, cat: Catalogue, tmp_path: Path) -> None:
    req = request(cat, "2.15", device="gpu")
    provision.ensure(req, tmp_path)
    assert req.package == "tensorflow"
    assert fake.uv_calls[1][-1] == "tensorflow[and-cuda]==2.15.1"


def test_gpu_before_2_15_installs_plain_tensorflow(
    fake: FakeUv, cat: Catalogue, tmp_path: Path
) -> None:
    req = request(cat, "2.14", device="gpu")
    provision.ensure(req, tmp_path)
    assert fake.uv_calls[1][-1] == "tensorflow==2.14.1"


@pytest.mark.parametrize(
    ("fail", "step", "calls"),
    [
        ("venv", "failed while creating the venv", 1),
        ("pip install", "failed while installing tensorflow-cpu==2.16.1", 2),
        ("no-deps", "failed while installing tf-keras~=2.16.0", 3),
    ],
)
def test_a_failed_uv_step_names_the_step_and_the_log_and_leaves_only_the_log(
    fake: FakeUv, cat: Catalogue, tmp_path: Path, fail: str, step: str, calls: int
) -> None:
    fake.fail = fail
    req = request(cat, "2.16.1", legacy_keras=True)
    with pytest.raises(EnvironmentBuildError) as info:
        provision.ensure(req, tmp_path)
    log = tmp_path / "logs" / f"{req.name}.log"
    message = str(info.value)
    assert step in message
    assert f"{step}: × No solution found (full" in message  # the line that says what went wrong
    assert "Resolved 3 packages" not in message
    assert f"(full log: {log})" in message
    assert info.value.log_path == str(log)
    assert len(fake.uv_calls) == calls
    assert fake.run_calls == []
    text = log.read_text()
    assert text.startswith("$ uv " + " ".join(fake.uv_calls[-1]))
    assert "Because x" in text
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == ["logs"]
    assert provision.find(req, tmp_path) is None


def test_a_failed_import_names_the_step_and_removes_the_folder(
    fake: FakeUv, cat: Catalogue, tmp_path: Path
) -> None:
    fake.fail = "verify"
    req = request(cat, "2.15")
    with pytest.raises(EnvironmentBuildError, match="failed while importing TensorFlow"):
        provision.ensure(req, tmp_path)
    assert "ImportError" in (tmp_path / "logs" / f"{req.name}.log").read_text()
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == ["logs"]
    assert not any(c[:2] == ["pip", "freeze"] for c in fake.uv_calls)


def test_a_verify_without_its_marker_fails(
    fake: FakeUv, cat: Catalogue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        process, "run", lambda argv, **kw: process.Completed(tuple(argv), 0, "hello\n", "")
    )
    with pytest.raises(EnvironmentBuildError, match="importing TensorFlow"):
        provision.ensure(request(cat, "2.15"), tmp_path)


def test_an_environment_built_without_bytecode_is_compiled_once(
    fake: FakeUv, cat: Catalogue, tmp_path: Path
) -> None:
    req = request(cat, "2.15")
    built = provision.ensure(req, tmp_path)
    assert (built.path / provision.BYTECODE).exists()  # written at install
    (built.path / provision.BYTECODE).unlink()  # as an environment from an earlier tfrepro
    fake.run_calls.clear()
    provision.ensure(req, tmp_path)
    provision.ensure(req, tmp_path)
    assert fake.run_calls == [
        [str(built.python), "-m", "compileall", "-q", "-j", "0", str(built.path / "lib")]
    ]


def test_a_second_ensure_is_served_from_the_cache(
    fake: FakeUv, cat: Catalogue, tmp_path: Path
) -> None:
    req = request(cat, "2.15")
    first = provision.ensure(req, tmp_path)
    fake.uv_calls.clear()
    fake.run_calls.clear()
    again = provision.ensure(req, tmp_path)
    assert fake.uv_calls == []
    assert fake.run_calls == []
    assert again == first
    # another request (another release) is another environment
    other = request(cat, "2.14")
    assert other.name != req.name
    provision.ensure(other, tmp_path)
    assert fake.uv_calls[0][0] == "venv"


def test_a_stale_building_folder_is_removed_before_a_build(
    fake: FakeUv, cat: Catalogue, tmp_path: Path
) -> None:
    req = request(cat, "2.15")
    stale = tmp_path / f".{req.name}.building-999999"
    (stale / "bin").mkdir(parents=True)
    provision.ensure(req, tmp_path)
    assert not stale.exists()
    assert (tmp_path / req.name / provision.META).exists()
