"""Spec → cells. Pure: the same inputs always give the same cells with the same ids.

A cell id is a hash of everything that defines the cell (the experiment's model, data and
training settings, the release, interpreter, resolution, requirements, seed, knobs and
environment variables), so a rerun of the same spec finds its finished cells (resume).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from tfrepro.envs.catalogue import Catalogue, Release, version_key
from tfrepro.envs.interpreters import Interpreter, choose
from tfrepro.envs.request import EnvRequest, digest, env_request
from tfrepro.spec import Knobs, Spec


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
    """What every cell of the experiment shares. For a script: its command and sources
    (`model_sha256` is then scripts.project_sha256) and whose seed it uses."""
    if spec.script is not None:
        return digest({"script": model_sha256, "seeding": spec.script.seeding})
    return digest(
        {
            "model": spec.model.model_dump(),
            "model_file": model_sha256,
            "data": data_sha256,
            "shuffle": spec.data.shuffle,
            "train": spec.train.model_dump(),
            "params": spec.params,
        }
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
                catalogue,
                release,
                interp,
                spec.matrix.resolution,
                keras=keras,
                legacy_keras=kn["legacy_keras"],
                device=kn["device"],
                requirements=tuple(spec.matrix.requirements),
            )
            env_vars = tuple(zip(env_names, env_values, strict=True))
            cid = digest([exp, env.key, keras, seed, kn, list(env_vars)])
            if cid in seen:
                continue
            seen.add(cid)
            cells.append(Cell(cid, release.version, seed, kn, keras, env_vars, env, exp))
    return cells


def environments(cells: list[Cell]) -> list[EnvRequest]:
    """The distinct environments the cells need, oldest release first."""
    by_key = {c.env.key: c.env for c in cells}
    return sorted(by_key.values(), key=lambda e: (version_key(e.tf_version), e.key))
