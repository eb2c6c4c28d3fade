"""Tomorrow's TensorFlow: tf-nightly and keras-nightly builds, read from the package index.

A nightly build is a pre-release version stamped with its build date: `2.23.0.dev20261026`
(tf-nightly, one a day at most) or `3.7.0.dev2024110803` (keras-nightly, to the hour). This
module lists the builds that have a Linux x86_64 (or pure-Python) wheel, with their upload
times, caches the list in the user cache for a few hours (the index prunes old nightlies, so
a list fetched once keeps naming what a bisection used), resolves what users write
(`nightly`, `nightly-20261001`, `nightly-20260901..nightly-20261001`, an exact version) and
names the commit window between two builds as a link to the project's commit log.

Nightly versions sort by their stamp (catalogue.version_key: `2.23.0.dev20261026` ->
(2, 23, -1, 20261026), after every 2.22 release and before 2.23.0).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tfrepro import files
from tfrepro.envs import catalogue
from tfrepro.errors import CatalogueError, UnknownReleaseError

TF = "tf-nightly"
KERAS = "keras-nightly"
REPOS = {TF: "tensorflow/tensorflow", KERAS: "keras-team/keras"}
MAX_AGE = 6 * 3600  # seconds a fetched list stays fresh
_STAMP = re.compile(r"\.dev(\d{8})(\d{2})?$")
_DAY = re.compile(r"^nightly(?:-(\d{4})-?(\d{2})-?(\d{2}))?$")


def is_nightly(version: str) -> bool:
    return _STAMP.search(version) is not None


@dataclass(frozen=True)
class Build:
    package: str  # tf-nightly or keras-nightly
    version: str  # 2.23.0.dev20261026
    uploaded: str  # first wheel's upload time, ISO 8601
    pythons: tuple[str, ...]  # CPython minors with a wheel ("any" for pure Python)

    @property
    def stamp(self) -> int:
        """YYYYMMDD[HH] of the version, as a number (the build order)."""
        m = _STAMP.search(self.version)
        assert m is not None
        return int(m.group(1) + (m.group(2) or "00"))

    @property
    def day(self) -> date:
        """The build date in its version stamp."""
        m = _STAMP.search(self.version)
        assert m is not None
        return datetime.strptime(m.group(1), "%Y%m%d").date()


def parse_day(text: str) -> date | None:
    """`nightly-20261001` / `nightly-2026-10-01` -> that date; `nightly` -> None (the newest).
    UnknownReleaseError for anything else that starts with `nightly`."""
    m = _DAY.match(text.strip())
    if m is None:
        raise UnknownReleaseError(
            f"'{text}' is not a nightly: write nightly (the newest), nightly-20261001 (that "
            f"day's build, or the nearest before it) or a range nightly-20260901..nightly-20261001"
        )
    if m.group(1) is None:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        raise UnknownReleaseError(f"'{text}': {text[8:]} is not a calendar date") from None


def on_or_before(builds: list[Build], day: date | None, package: str) -> tuple[Build, str]:
    """The build of that day, else the nearest before it (said in the note); the newest for
    None. Builds are oldest first."""
    if not builds:
        raise UnknownReleaseError(f"the package index lists no {package} build for this platform")
    if day is None:
        return builds[-1], ""
    earlier = [b for b in builds if b.day <= day]
    if not earlier:
        raise UnknownReleaseError(
            f"no {package} build on or before {day} (the index keeps {builds[0].day} … "
            f"{builds[-1].day}; older nightlies are pruned)"
        )
    found = earlier[-1]
    note = "" if found.day == day else f"no {package} build on {day}: using {found.version}"
    return found, note


def resolve(text: str, builds: list[Build], package: str) -> tuple[list[Build], list[str]]:
    """What a user wrote -> builds (oldest first) and notes on the substitutions made."""
    text = text.strip()
    if ".." in text:
        lo, _, hi = text.partition("..")
        b, note = _one(hi, builds, package)
        start = _one(lo, builds, package)[0].day if is_nightly(lo.strip()) else parse_day(lo)
        if start is None or start > b.day:
            raise UnknownReleaseError(f"nightly range '{text}' is empty: write the older day first")
        inside = [x for x in builds if start <= x.day <= b.day]  # from the first build on
        return inside, [note] if note else []
    found, note = _one(text, builds, package)
    return [found], [note] if note else []


def _one(text: str, builds: list[Build], package: str) -> tuple[Build, str]:
    text = text.strip()
    if is_nightly(text):
        exact = next((b for b in builds if b.version == text), None)
        if exact is None:
            raise UnknownReleaseError(
                f"{package} {text} is not in the package index (see `tfrepro versions "
                f"--nightly`; old nightlies are pruned)"
            )
        return exact, ""
    return on_or_before(builds, parse_day(text), package)


def between(builds: list[Build], after: str, before: str) -> list[Build]:
    """The builds uploaded strictly between two upload times, oldest first."""
    return [b for b in builds if after < b.uploaded < before]


def commit_window(package: str, since: date | str, until: date | str) -> str:
    """The project's commit log between two days (inclusive of both)."""
    a, b = (d if isinstance(d, str) else d.isoformat() for d in (since, until))
    return f"https://github.com/{REPOS[package]}/commits/master/?since={a}&until={b}"


def next_day(d: date) -> date:
    return d + timedelta(days=1)


def builds(package: str, *, refresh: bool = False, fetch=None) -> list[Build]:  # type: ignore[no-untyped-def]
    """Every build of `package` with a usable wheel, oldest first: the cached list when it is
    fresh, else the index (and the cache rewritten); the stale cache when the index cannot be
    reached."""
    path = catalogue.user_cache_dir() / f"{package}.json"
    cached = _read(path)
    if cached is not None and not refresh and time.time() - cached[0] < MAX_AGE:
        return cached[1]
    try:
        index = (fetch or catalogue._fetch_index)(package)
    except CatalogueError:
        if cached is not None:
            return cached[1]
        raise
    found = from_index(index, package)
    data = {"fetched": time.time(), "builds": [b.__dict__ for b in found]}
    files.write_text(path, json.dumps(data) + "\n")
    return found


def _read(path) -> tuple[float, list[Build]] | None:  # type: ignore[no-untyped-def]
    try:
        data = json.loads(path.read_text())
        return data["fetched"], [
            Build(b["package"], b["version"], b["uploaded"], tuple(b["pythons"]))
            for b in data["builds"]
        ]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def from_index(index: dict, package: str) -> list[Build]:
    """The builds of a PEP 691 JSON index page: Linux x86_64 CPython wheels (tf-nightly) or
    pure-Python ones (keras-nightly), stamped versions only, oldest first."""
    seen: dict[str, tuple[str, set[str]]] = {}
    for f in index.get("files", []):
        m = catalogue._WHEEL.match(f.get("filename", ""))
        if not m or f.get("yanked") or not is_nightly(m["version"]):
            continue
        plat, py = m["plat"], m["py"]
        if plat == "any":
            pythons = {"any"}
        elif "linux" in plat and "x86_64" in plat:
            pythons = {f"3.{t[3:]}" for t in py.split(".") if t.startswith("cp3")}
        else:
            continue
        upload = f.get("upload-time") or ""
        first, known = seen.get(m["version"], (upload, set()))
        seen[m["version"]] = (min(first, upload), known | pythons)
    out = [
        Build(package, v, up, tuple(sorted(p, key=catalogue.version_key)))
        for v, (up, p) in seen.items()
    ]
    return sorted(out, key=lambda b: (b.stamp, b.uploaded))


_MEMO: dict[str, list[Build]] = {}


def cached_builds(package: str) -> list[Build]:
    """builds(), read once per process."""
    if package not in _MEMO:
        _MEMO[package] = builds(package)
    return _MEMO[package]


def releases(text: str) -> list[catalogue.Release]:
    """`--tf nightly…` -> tf-nightly releases, each paired with the keras-nightly build that
    was the newest when it was uploaded (what `pip install tf-nightly` got that day)."""
    found, notes = resolve(text, cached_builds(TF), TF)
    keras = cached_builds(KERAS)
    out = []
    for b in found:
        paired = [k for k in keras if k.uploaded <= b.uploaded]
        out.append(
            catalogue.Release(
                b.version,
                TF,
                b.uploaded,
                tuple(p for p in b.pythons if p != "any"),
                companion=paired[-1].version if paired else None,
                note="; ".join(notes),
            )
        )
    return out


def keras_versions(values: list[str]) -> tuple[list[str], list[str]]:
    """The spec's keras axis with `nightly` / `nightly-DAY` resolved to keras-nightly builds
    (exact versions, final or nightly, kept as written), and notes on substitutions."""
    out: list[str] = []
    notes: list[str] = []
    for v in values:
        if v.startswith("nightly"):
            found, said = resolve(v, cached_builds(KERAS), KERAS)
            out += [b.version for b in found if b.version not in out]
            notes += said
        elif v not in out:
            out.append(v)
    return out, notes


def uploaded(package: str, version: str) -> str | None:
    return next((b.uploaded for b in cached_builds(package) if b.version == version), None)


def resolve_releases(cat: catalogue.Catalogue, text: str) -> list[catalogue.Release]:
    """`--tf` text -> releases: nightlies from the index (only then is it read), the rest from
    the catalogue."""
    text = text.strip()
    if text.startswith("nightly") or ".dev" in text:
        return releases(text)
    return cat.resolve(text)
