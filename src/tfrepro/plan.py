"""Spec → cells. Pure: the same inputs always give the same cells with the same ids.

A cell id is a hash of everything that defines the cell (the experiment's model, data and
training settings, the release, interpreter, resolution, requirements, seed, knobs and
environment variables), so a rerun of the same spec finds its finished cells (resume).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tfrepro.envs.catalogue import Catalogue, Release, version_key
from tfrepro.envs.interpreters import Interpreter, choose
from tfrepro.spec import Knobs, Spec


def _digest(obj: Any, n: int = 16) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:n]


@dataclass(frozen=True)
class EnvRequest:
    """Everything that defines one environment; its key names the cached venv."""

    package: str
    tf_version: str
    python: str  # interpreter path
    python_version: str
    resolution: str
    exclude_newer: str | None
    requirements: tuple[str, ...]
    no_deps: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return _digest(
            [self.package, self.tf_version, self.python_version, self.resolution,
             self.exclude_newer, list(self.requirements), list(self.no_deps)]
        )

    @property
    def name(self) -> str:
        minor = ".".join(self.python_version.split(".")[:2])
        return f"tf{self.tf_version}-py{minor}-{self.resolution}-{self.key[:10]}"


@dataclass(frozen=True)
class Cell:
    id: str
    tf_version: str
    seed: int
    knobs: dict[str, Any] = field(hash=False)
    keras: str | None
    env_vars: tuple[tuple[str, str], ...]
    env: EnvRequest
    experiment: str  # hash of the shared experiment definition

    def describe(self) -> str:
        defaults = Knobs().model_dump()
        knobs = " ".join(f"{k}={v}" for k, v in self.knobs.items() if defaults[k][0] != v)
        extra = " ".join(f"{k}={v}" for k, v in self.env_vars)
        keras = f" keras={self.keras}" if self.keras else ""
        head = f"tf {self.tf_version} py{self.env.python_version} seed {self.seed}{keras}"
        return f"{head} {knobs} {extra}".strip()


def experiment_hash(spec: Spec, data_sha256: str, model_sha256: str | None) -> str:
    return _digest(
        {
            "model": spec.model.model_dump(),
            "model_file": model_sha256,
            "data": data_sha256,
            "shuffle": spec.data.shuffle,
            "train": spec.train.model_dump(),
            "params": spec.params,
        }
    )


def _era_date(catalogue: Catalogue, release: Release, pins: list[tuple[str, str]]) -> str:
    """One day after the newest of: the TF wheel upload and the first upload of each pinned
    companion."""
    stamps = [release.uploaded]
    for package, version in pins:
        when = catalogue.companion_date(package, version)
        if when:
            stamps.append(when)
    newest = max(datetime.fromisoformat(s.replace("Z", "+00:00")) for s in stamps)
    return (newest + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


def env_request(
    catalogue: Catalogue,
    release: Release,
    interp: Interpreter,
    resolution: str,
    *,
    keras: str | None,
    legacy_keras: bool,
    device: str,
    requirements: tuple[str, ...],
) -> EnvRequest:
    package = release.package
    if device == "gpu":
        package = "tensorflow"
    main = f"{package}=={release.version}"
    if device == "gpu" and release.key >= (2, 15):
        main = f"tensorflow[and-cuda]=={release.version}"
    reqs = [main]
    pins: list[tuple[str, str]] = []
    if keras:
        reqs.append(f"keras=={keras}")
        pins.append(("keras", keras))
    no_deps: list[str] = []
    if legacy_keras and release.key >= (2, 16):
        # tf-keras depends on the full `tensorflow` wheel; --no-deps keeps the CPU build alone.
        no_deps.append(f"tf-keras~={release.minor}.0")
        pins.append(("tf-keras", release.minor))
    if resolution == "latest":
        # Verified on this machine: these releases fail to import with today's protobuf /
        # numpy. Era resolution picks old enough ones by itself.
        if release.key < (2, 6):
            reqs.append("protobuf<4")
        if release.key < (2, 12):
            reqs.append("numpy<2")
    reqs.extend(requirements)
    exclude = _era_date(catalogue, release, pins) if resolution == "era" else None
    return EnvRequest(
        package=package,
        tf_version=release.version,
        python=interp.path,
        python_version=interp.version,
        resolution=resolution,
        exclude_newer=exclude,
        requirements=tuple(reqs),
        no_deps=tuple(no_deps),
    )


def plan(
    spec: Spec,
    releases: list[Release],
    catalogue: Catalogue,
    interpreters: dict[str, Interpreter],
    preferred_python: str,
    *,
    data_sha256: str,
    model_sha256: str | None,
    forced_python: Interpreter | None = None,
) -> list[Cell]:
    exp = experiment_hash(spec, data_sha256, model_sha256)
    knobs = spec.matrix.knobs.model_dump()
    knob_names = list(knobs)
    env_names = sorted(spec.matrix.env)
    keras_axis: list[str | None] = list(spec.matrix.keras) or [None]
    cells: list[Cell] = []
    seen: set[str] = set()
    for release in sorted(releases, key=lambda r: r.key):
        available = dict(interpreters)
        if forced_python is not None:
            available[forced_python.minor] = forced_python
        interp = choose(release, available, preferred_python)
        for keras, knob_values, env_values, seed in itertools.product(
            keras_axis,
            itertools.product(*(knobs[k] for k in knob_names)),
            itertools.product(*(spec.matrix.env[n] for n in env_names)),
            spec.matrix.seeds,
        ):
            kn = dict(zip(knob_names, knob_values, strict=True))
            env = env_request(
                catalogue, release, interp, spec.matrix.resolution,
                keras=keras, legacy_keras=kn["legacy_keras"], device=kn["device"],
                requirements=tuple(spec.matrix.requirements),
            )
            env_vars = tuple(zip(env_names, env_values, strict=True))
            cid = _digest([exp, env.key, keras, seed, kn, list(env_vars)])
            if cid in seen:
                continue
            seen.add(cid)
            cells.append(Cell(cid, release.version, seed, kn, keras, env_vars, env, exp))
    return cells


def environments(cells: list[Cell]) -> list[EnvRequest]:
    """The distinct environments the cells need, oldest release first."""
    by_key = {c.env.key: c.env for c in cells}
    return sorted(by_key.values(), key=lambda e: (version_key(e.tf_version), e.key))
