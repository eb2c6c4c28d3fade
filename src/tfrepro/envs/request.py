"""What defines one environment (`EnvRequest`), and how a release's request is made.

A request names the packages to install, the interpreter, the resolution and the era date;
its `key` is the content hash that names the cached venv. `plan` asks for one per cell;
`provision` builds them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tfrepro.envs import capabilities
from tfrepro.envs.catalogue import Catalogue, Release
from tfrepro.envs.interpreters import Interpreter


def digest(obj: Any, n: int = 16) -> str:
    """A short content hash of a JSON-able value (keys sorted): ids of cells and envs."""
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
    # replace what TensorFlow itself requires (uv --override): Keras 3 on TF 2.15, whose wheel
    # asks for keras < 2.16
    overrides: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        parts: list[Any] = [
            self.package,
            self.tf_version,
            self.python_version,
            self.resolution,
            self.exclude_newer,
            list(self.requirements),
            list(self.no_deps),
        ]
        if self.overrides:  # only then: every other environment keeps its key (and cells)
            parts.append(list(self.overrides))
        return digest(parts)

    @property
    def name(self) -> str:
        minor = ".".join(self.python_version.split(".")[:2])
        return f"tf{self.tf_version}-py{minor}-{self.resolution}-{self.key[:10]}"


def _era_date(
    catalogue: Catalogue, release: Release, pins: list[tuple[str, str]], extra: list[str]
) -> str:
    """One day after the newest of: the TF wheel upload, the first upload of each pinned
    companion and the `extra` upload times (a keras-nightly build)."""
    stamps = [release.uploaded, *extra]
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
    if device == "gpu" and capabilities.has(release.key, "and_cuda_extra"):
        main = f"tensorflow[and-cuda]=={release.version}"
    reqs = [main]
    pins: list[tuple[str, str]] = []
    overrides: tuple[str, ...] = ()
    stamps: list[str] = []
    if release.nightly and keras is None:
        keras = release.companion  # the keras-nightly of the TF nightly's day
    if keras and ".dev" in keras:
        from tfrepro.envs import nightly

        # keras-nightly installs the `keras` module too: TF's own keras requirement is
        # dropped (an override whose marker never holds), the nightly installed instead
        reqs.append(f"{nightly.KERAS}=={keras}")
        overrides = ("keras; sys_platform == 'never'",)
        stamps += [s for s in [nightly.uploaded(nightly.KERAS, keras)] if s]
    elif keras:
        reqs.append(f"keras=={keras}")
        pins.append(("keras", keras))
        if int(keras.split(".")[0]) >= 3 and not capabilities.has(release.key, "keras3"):
            overrides = (f"keras=={keras}",)  # TF's own wheel pins Keras 2
        if release.nightly:  # a Keras release on a TF nightly, in place of keras-nightly
            overrides = ("keras-nightly; sys_platform == 'never'",)
    no_deps: list[str] = []
    if legacy_keras and capabilities.has(release.key, "keras3"):
        # tf-keras depends on the full `tensorflow` wheel; --no-deps keeps the CPU build alone.
        no_deps.append(f"tf-keras~={release.minor}.0")
        pins.append(("tf-keras", release.minor))
    if resolution == "latest":
        # Verified on this machine: these releases fail to import with today's protobuf /
        # numpy. Era resolution picks old enough ones by itself.
        if not capabilities.has(release.key, "modern_protobuf"):
            reqs.append("protobuf<4")
        if not capabilities.has(release.key, "numpy_cap_declared"):
            reqs.append("numpy<2")
    reqs.extend(requirements)
    exclude = _era_date(catalogue, release, pins, stamps) if resolution == "era" else None
    return EnvRequest(
        package=package,
        tf_version=release.version,
        python=interp.path,
        python_version=interp.version,
        resolution=resolution,
        exclude_newer=exclude,
        requirements=tuple(reqs),
        no_deps=tuple(no_deps),
        overrides=overrides,
    )
