"""What every task does before a cell runs: options, the plan, and the inputs handed to a runner.

`make_plan` turns a spec into cells (resolving releases and interpreters, preparing the data);
`stage_inputs` writes the arrays and batch orders a runner reads into the store's artifact
folder; `job_for` is the JSON job of one cell. `run`, `explain` and `bisect` all go through here.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfrepro import DEFAULT_STORE, datasets, python_compat, scripts
from tfrepro.envs import catalogue, interpreters, nightly, provision
from tfrepro.errors import UsageError
from tfrepro.plan import Cell, plan
from tfrepro.runner.tfrepro_guest.protocol import Job, Kind, ModelSpec, ScriptSpec
from tfrepro.spec import Spec
from tfrepro.store import Store


@dataclass
class Options:
    """How to run (not what): shared by run, explain and bisect."""

    store: Path = DEFAULT_STORE
    jobs: int = 1
    dry_run: bool = False
    rerun: bool = False
    retry_failed: bool = False
    timeout: float | None = None
    python: str | None = None
    cache: Path | None = None
    command: str = "tfrepro run"
    warm: bool = True  # model cells in warm workers (execute/workers.py); False: fresh processes
    executor: str = "local"  # or "ray" (execute/remote.py)
    address: str | None = None  # the Ray cluster's


@dataclass
class Planned:
    spec: Spec
    cells: list[Cell]
    data: datasets.Prepared | None  # None for a script: it loads its own data
    skipped: list[Cell] = field(default_factory=list)
    script: scripts.Target | None = None
    notes: tuple[str, ...] = ()  # what resolving the releases substituted (nightlies)

    @property
    def warnings(self) -> tuple[str, ...]:
        """About the releases (a nightly of another day, pre-release builds), the script
        (notebook lines left out) and GPU cells on a machine without a GPU, shown with the
        run."""
        out = self.notes + (self.script.warnings if self.script else ())
        if any(c.knobs.get("device") == "gpu" for c in self.cells) and not gpu_visible():
            out = (*out, NO_GPU)
        return out


NO_GPU = (
    "device=gpu but this machine has no visible NVIDIA GPU (no /dev/nvidia0, no nvidia-smi): "
    "GPU cells fail without running; run them on a machine with a GPU, or drop device=gpu"
)


def gpu_visible() -> bool:
    """Whether an NVIDIA GPU is visible to processes here (its device node or its tool)."""
    return Path("/dev/nvidia0").exists() or shutil.which("nvidia-smi") is not None


@dataclass(frozen=True)
class Inputs:
    """The files a runner reads: the data arrays and, per seed, the batch order (None when
    TensorFlow shuffles)."""

    data_path: Path | None
    orders: dict[int, Path | None]


def host_minor() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def make_plan(spec: Spec, opts: Options) -> Planned:
    if not spec.matrix.tf:
        raise UsageError(
            "no TensorFlow releases to run: give --tf (e.g. --tf 2.15,2.16) or "
            "matrix.tf in the spec"
        )
    if opts.cache is not None:
        provision.envs_root(opts.cache)  # a --cache that cannot be a folder: said before a run
    _check_store(opts.store)
    cat = catalogue.load()
    releases = {
        r.version: r for text in spec.matrix.tf for r in nightly.resolve_releases(cat, text)
    }
    notes = [r.note for r in releases.values() if r.note]
    if any(v.startswith("nightly") for v in spec.matrix.keras):
        keras, said = nightly.keras_versions(list(spec.matrix.keras))
        notes += said
        spec = spec.model_copy(update={"matrix": spec.matrix.model_copy(update={"keras": keras})})
    if any(r.nightly for r in releases.values()):
        notes.append(
            "nightly cells run pre-release builds (tf-nightly with the keras-nightly of its "
            "day): what they show may change before the release"
        )
    available, forced = interpreters.pool(opts.python)
    preferred = (forced.minor if forced else None) or spec.matrix.python or host_minor()
    data: datasets.Prepared | None = None
    target = scripts.target(spec) if spec.script is not None else None
    model_sha: str | None
    if target is not None:  # a script brings its own data; its id is its sources
        data_sha, model_sha = "", scripts.project_sha256(target)
    else:
        cache = opts.cache or catalogue.user_cache_dir()
        data = datasets.prepare(spec.data, spec.data_path(), cache=cache)
        model_path = spec.model_path()
        data_sha = data.sha256
        model_sha = hashlib.sha256(model_path.read_bytes()).hexdigest() if model_path else None
    cells = plan(
        spec,
        list(releases.values()),
        cat,
        available,
        preferred,
        data_sha256=data_sha,
        model_sha256=model_sha,
        forced_python=forced,
    )
    _check_python(spec, target, cells)
    return Planned(spec, cells, data, script=target, notes=tuple(dict.fromkeys(notes)))


def _check_store(store: Path) -> None:
    """A --store that cannot be a folder, said before a run and by a dry run alike (which
    creates no store, so would not find out)."""
    existing = next((p for p in (store, *store.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise UsageError(
            f"--store: cannot use '{store}' as the result store ('{existing}' is a file, not a "
            f"folder); give a folder (it is created if missing), e.g. --store .tfrepro"
        )


def _check_python(spec: Spec, target: scripts.Target | None, cells: list[Cell]) -> None:
    """The model file or script must run on the Python of every planned release (TF 1.15 runs
    on 3.7): refused here, before an environment is built, rather than in every cell."""
    pythons = {c.tf_version: c.env.python_version for c in cells}
    model = spec.model_path()
    if model is not None:
        python_compat.check(model.read_bytes(), f"model file '{model}'", pythons)
    elif target is not None and target.kind == "file":
        python_compat.check(target.path.read_bytes(), f"script '{target.path}'", pythons)
    elif target is not None and target.source is not None:  # a notebook's code cells
        where = scripts.notebook_where(target.source)
        python_compat.check(target.source, f"notebook '{target.path}'", pythons, where)


def stage_inputs(store: Store, planned: Planned, seeds: set[int]) -> Inputs:
    spec = planned.spec
    if planned.data is None:  # a script reads its own data
        return Inputs(None, dict.fromkeys(seeds))
    orders: dict[int, Path | None] = {}
    for seed in sorted(seeds):
        if spec.data.shuffle == "framework":
            orders[seed] = None
        else:
            order = datasets.batch_order(
                planned.data.n_train, spec.train.epochs, seed, spec.data.shuffle
            )
            orders[seed] = store.put_arrays({"order": order})
    return Inputs(store.put_arrays(planned.data.arrays), orders)


def job_for(planned: Planned, cell: Cell, inputs: Inputs) -> dict[str, Any]:
    """The runner's job for one cell (JSON): everything it needs, nothing from the host."""
    spec, data = planned.spec, planned.data
    if planned.script is not None:
        return script_job(planned.spec, planned.script, cell)
    assert data is not None
    model_path = spec.model_path()
    if model_path is None:
        name = spec.model.source.removeprefix("builtin:")
        model: dict[str, Any] = {ModelSpec.KIND: ModelSpec.BUILTIN, ModelSpec.NAME: name}
    else:
        model = {ModelSpec.KIND: ModelSpec.FILE, ModelSpec.PATH: str(model_path)}
    model[ModelSpec.HIDDEN] = spec.model.hidden
    order = inputs.orders[cell.seed]
    return {
        Job.KIND: Kind.TRAIN,
        Job.CELL_ID: cell.id,
        Job.SEED: cell.seed,
        Job.TF_VERSION: cell.tf_version,
        Job.KNOBS: cell.knobs,
        Job.MODEL: model,
        Job.DATA_PATH: str(inputs.data_path),
        Job.ORDER_PATH: str(order) if order else None,
        Job.TASK: data.task,
        Job.N_CLASSES: data.n_classes,
        Job.TRAIN: spec.train.model_dump(),
        Job.PARAMS: spec.params,
    }


def script_job(spec: Spec, target: scripts.Target, cell: Cell) -> dict[str, Any]:
    """A script cell's job: the runner copies nothing; the host runs it in a private copy of
    the script's folder (`cwd`, see scripts.mirror)."""
    assert spec.script is not None
    script: dict[str, Any] = {
        ScriptSpec.KIND: target.kind,
        ScriptSpec.NAME: target.name,
        ScriptSpec.ARGV: list(target.argv),
        ScriptSpec.CWD: str(target.cwd),
        ScriptSpec.SEEDING: spec.script.seeding,
    }
    if target.kind == ScriptSpec.NOTEBOOK:
        script[ScriptSpec.SOURCE] = target.source
    return {
        Job.KIND: Kind.SCRIPT,
        Job.CELL_ID: cell.id,
        Job.SEED: cell.seed,
        Job.TF_VERSION: cell.tf_version,
        Job.KNOBS: cell.knobs,
        Job.SCRIPT: script,
    }
