"""Build, find, list and prune the cached TensorFlow environments.

One venv per `EnvRequest` (release, interpreter, resolution, requirements), named after
its content key, under `<cache>/envs/`. A build happens in a hidden temporary folder that
is renamed into place only after TensorFlow imported successfully in it, under a file
lock: a killed build leaves only a temporary folder, which the next build removes, and
no half-built environment is ever used.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from tfrepro import process
from tfrepro.envs.catalogue import user_cache_dir
from tfrepro.envs.request import EnvRequest
from tfrepro.errors import EnvironmentBuildError, UsageError

META = "tfrepro-env.json"
BYTECODE = "tfrepro-bytecode"  # present once the installed modules' bytecode is written
_VERIFY = (
    "import json, platform, importlib\n"
    "import numpy, tensorflow as tf\n"
    "out = {'python': platform.python_version(), 'tensorflow': tf.__version__, "
    "'numpy': numpy.__version__}\n"
    "for name in ('keras', 'tf_keras'):\n"
    "    try:\n"
    "        out[name] = importlib.import_module(name).__version__\n"
    "    except Exception:\n"
    "        pass\n"
    "print('TFREPRO-VERIFY ' + json.dumps(out))\n"
)


@dataclass(frozen=True)
class BuiltEnv:
    path: Path
    name: str
    versions: dict[str, str]
    lock: list[str]
    build_seconds: float
    built_at: str

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"


def envs_root(cache: Path | None = None) -> Path:
    root = (cache or user_cache_dir()) / "envs"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"--cache: cannot use '{root.parent}' as the environment cache ({exc.strerror}); "
            f"give a folder you can write to (it is created if missing)"
        ) from None
    return root


def _load(path: Path) -> BuiltEnv | None:
    meta = path / META
    if not meta.exists():
        return None
    data = json.loads(meta.read_text())
    return BuiltEnv(
        path, path.name, data["versions"], data["lock"], data["build_seconds"], data["built_at"]
    )


def find(req: EnvRequest, root: Path) -> BuiltEnv | None:
    return _load(root / req.name)


def ensure(req: EnvRequest, root: Path) -> BuiltEnv:
    """The built environment for `req`, building it first if needed (safe across processes)."""
    final = root / req.name
    built = _load(final)
    if built is not None and _compiled(final):
        _touch(final)
        return built
    with FileLock(str(root / f".{req.name}.lock")):
        built = _load(final)  # another process may have built it while we waited
        if built is not None:
            _compile(built)
            return built
        return _build(req, root, final)


def _compiled(path: Path) -> bool:
    return (path / BYTECODE).exists()


def _compile(env: BuiltEnv) -> None:
    """Write the bytecode of every installed module once (an environment built before tfrepro
    did it at install): without it every cell compiles TensorFlow's Python sources again when
    it imports them (the runner itself never writes bytecode), which doubles the import time."""
    if _compiled(env.path):
        return
    done = process.run(
        [str(env.python), "-m", "compileall", "-q", "-j", "0", str(env.path / "lib")],
        timeout=1800,
    )
    # a few files that do not compile (another Python's syntax in package data) stay source
    (env.path / BYTECODE).write_text(f"compileall exit {done.returncode}\n")


def _touch(path: Path) -> None:
    with contextlib.suppress(OSError):
        (path / META).touch()


def _fail(req: EnvRequest, step: str, done: process.Completed, log: Path) -> EnvironmentBuildError:
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"$ {' '.join(done.argv)}\n{done.stdout}\n{done.stderr}")
    lines = [ln.strip() for ln in (done.stderr or done.stdout).splitlines() if ln.strip()]
    reason = next((ln for ln in lines if ln.lower().startswith(("error", "×", "because"))), "")
    reason = reason or (lines[-1] if lines else f"exit code {done.returncode}")
    return EnvironmentBuildError(
        f"building the environment for TensorFlow {req.tf_version} (Python {req.python_version}) "
        f"failed while {step}: {reason[:300]} (full log: {log})",
        str(log),
    )


def _build(req: EnvRequest, root: Path, final: Path) -> BuiltEnv:
    for stale in root.glob(f".{req.name}.building-*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = root / f".{req.name}.building-{os.getpid()}"
    log = root / "logs" / f"{req.name}.log"
    start = time.monotonic()
    try:
        done = process.uv(["venv", "--quiet", "--relocatable", "--python", req.python, str(tmp)])
        if done.returncode != 0:
            raise _fail(req, "creating the venv", done, log)
        py = str(tmp / "bin" / "python")
        # bytecode at install: cells never write it, and TF's sources compile slowly
        install = ["pip", "install", "--quiet", "--compile-bytecode", "--python", py]
        if req.exclude_newer:
            install += ["--exclude-newer", req.exclude_newer]
        overrides = []
        if req.overrides:
            (tmp / "overrides.txt").write_text("\n".join(req.overrides) + "\n")
            overrides = ["--override", str(tmp / "overrides.txt")]
        done = process.uv([*install, *overrides, *req.requirements], timeout=3600)
        if done.returncode != 0:
            raise _fail(req, "installing " + " ".join(req.requirements), done, log)
        if req.no_deps:
            done = process.uv([*install, "--no-deps", *req.no_deps], timeout=3600)
            if done.returncode != 0:
                raise _fail(req, "installing " + " ".join(req.no_deps), done, log)
        done = process.run(
            [py, "-c", _VERIFY],
            env={"TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1"},
            timeout=600,
        )
        marker = [ln for ln in done.stdout.splitlines() if ln.startswith("TFREPRO-VERIFY ")]
        if done.returncode != 0 or not marker:
            raise _fail(req, "importing TensorFlow in the new environment", done, log)
        versions = json.loads(marker[-1].removeprefix("TFREPRO-VERIFY "))
        frozen = process.uv(["pip", "freeze", "--python", py])
        lock = sorted(ln for ln in frozen.stdout.splitlines() if ln.strip())
        built = BuiltEnv(
            final,
            final.name,
            versions,
            lock,
            round(time.monotonic() - start, 2),
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )
        meta = {k: v for k, v in asdict(built).items() if k not in ("path", "name")}
        meta["request"] = asdict(req)
        (tmp / META).write_text(json.dumps(meta, indent=1))
        (tmp / BYTECODE).write_text("")
        tmp.rename(final)
        return BuiltEnv(**{**asdict(built), "path": final})
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def list_envs(root: Path) -> list[tuple[BuiltEnv, int, float]]:
    """(env, size in bytes, last used as epoch seconds) for every complete environment."""
    out = []
    for path in sorted(root.iterdir()):
        if path.name.startswith(".") or not path.is_dir():
            continue
        env = _load(path)
        if env is None:
            continue
        out.append((env, _size(path), (path / META).stat().st_mtime))
    return out


def _size(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += (Path(dirpath) / f).lstat().st_size
    return total


def prune(
    root: Path,
    *,
    older_than_days: float | None,
    everything: bool,
    keep: frozenset[str] = frozenset(),
) -> list[str]:
    """Remove unfinished builds always; complete environments if unused long enough (or all),
    except those named in `keep` (what a stored bisection used)."""
    removed = []
    for path in sorted(root.iterdir()):
        if path.name.startswith(".") and ".building-" in path.name:
            lock = root / (path.name.split(".building-")[0] + ".lock")
            try:
                with FileLock(str(lock), timeout=0.1):
                    shutil.rmtree(path, ignore_errors=True)
            except Timeout:
                continue  # a build is in progress right now: not ours to remove
            removed.append(path.name)
            continue
        if path.name.startswith(".") or _load(path) is None or path.name in keep:
            continue
        age_days = (time.time() - (path / META).stat().st_mtime) / 86400
        if everything or (older_than_days is not None and age_days > older_than_days):
            # rename first so that a concurrent run never sees a half-deleted env
            doomed = root / f".{path.name}.building-prune"
            path.rename(doomed)
            shutil.rmtree(doomed, ignore_errors=True)
            removed.append(path.name)
    return removed
