"""Tasks over releases and the environment cache: versions, envs list / build / prune."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tfrepro.envs import catalogue, interpreters, nightly, provision
from tfrepro.envs.request import EnvRequest, env_request
from tfrepro.errors import NoInterpreterError
from tfrepro.tasks.planning import host_minor


def versions(*, refresh: bool, nightlies: bool = False) -> tuple[list[dict[str, Any]], str]:
    """Every known release with the Pythons it has wheels for and the interpreter found here;
    and where the catalogue came from. `nightlies`: the tf-nightly builds instead (each with
    the keras-nightly build it is paired with)."""
    if nightlies:
        nightly.builds(nightly.TF, refresh=refresh)  # refresh the cached lists when asked
        nightly.builds(nightly.KERAS, refresh=refresh)
        found = nightly.releases("nightly-20000101..nightly")
        source = f"{nightly.TF} and {nightly.KERAS} in the package index (cached up to 6 h)"
    else:
        cat = catalogue.refresh() if refresh else catalogue.load()
        found, source = list(cat.releases), f"{cat.source}, fetched {cat.fetched}"
    available = interpreters.discover()
    rows = []
    for r in found:
        try:
            interp = interpreters.choose(r, available, host_minor())
            here: str | None = f"{interp.version} ({interp.path})"
        except NoInterpreterError:
            here = None
        rows.append(
            {
                "version": r.version,
                "package": r.package,
                "uploaded": r.uploaded,
                "pythons": list(r.pythons),
                "interpreter": here,
                **({"keras_nightly": r.companion} if r.nightly else {}),
            }
        )
    return rows, source


def list_envs(cache: Path | None) -> tuple[list[dict[str, Any]], Path]:
    root = provision.envs_root(cache)
    rows = [
        {
            "name": env.name,
            "path": str(env.path),
            "versions": env.versions,
            "size_mb": round(size / 2**20),
            "last_used": time.strftime("%Y-%m-%d %H:%M", time.localtime(used)),
            "build_seconds": env.build_seconds,
        }
        for env, size, used in provision.list_envs(root)
    ]
    return rows, root


def requests(
    tf: str, *, python: str | None, resolution: str, legacy_keras: bool
) -> list[EnvRequest]:
    """The CPU environment of every release `tf` names, chosen as `run` would."""
    cat = catalogue.load()
    available, forced = interpreters.pool(python)
    preferred = forced.minor if forced else host_minor()
    releases = {
        r.version: r for t in tf.split(",") if t.strip() for r in nightly.resolve_releases(cat, t)
    }
    return [
        env_request(
            cat,
            release,
            interpreters.choose(release, available, preferred),
            resolution,
            keras=None,
            legacy_keras=legacy_keras,
            device="cpu",
            requirements=(),
        )
        for release in releases.values()
    ]


def build(req: EnvRequest, cache: Path | None) -> tuple[provision.BuiltEnv, float]:
    """The built environment (built now or found in the cache) and the seconds it took."""
    start = time.monotonic()
    env = provision.ensure(req, provision.envs_root(cache))
    return env, time.monotonic() - start


def prune(
    cache: Path | None,
    *,
    older_than: float | None,
    everything: bool,
    keep: frozenset[str] = frozenset(),
) -> tuple[list[str], Path]:
    root = provision.envs_root(cache)
    removed = provision.prune(root, older_than_days=older_than, everything=everything, keep=keep)
    return removed, root
