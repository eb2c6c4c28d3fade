"""The TensorFlow release catalogue, read from the package index's own metadata.

For every final release it records which package to install (`tensorflow-cpu` where a
Linux x86_64 wheel of it exists, else `tensorflow`), when its first wheel was uploaded
(the anchor of *era* resolution), and which CPython minors it has wheels for. A snapshot
ships in the package (`catalogue.json`) so that planning works offline; `tfrepro versions
--refresh` fetches a fresh one into the user cache, which then takes precedence.
"""

from __future__ import annotations

import json
import re
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from tfrepro import files
from tfrepro.errors import CatalogueError, UnknownReleaseError

SNAPSHOT = Path(__file__).with_name("catalogue.json")
INDEX_URL = "https://pypi.org/simple/{name}/"
PACKAGES = ("tensorflow-cpu", "tensorflow", "tf-keras", "keras")
_WHEEL = re.compile(
    r"^(?P<name>[A-Za-z0-9_.]+)-(?P<version>[^-]+)-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>[^-]+)\.whl$"
)
_FINAL = re.compile(r"^\d+(\.\d+)*$")


def version_key(version: str) -> tuple[int, ...]:
    """The host's one version parser: '2.16.1' -> (2, 16, 1); the leading numeric parts of
    each dotted piece, so '2.16.0rc1' -> (2, 16, 0) and text after a space is ignored (group
    labels such as '2.15.1 onednn=on'); a piece with no leading digit ends the version. A
    nightly's `.devSTAMP` counts one below the release it leads to, then the stamp:
    '2.23.0.dev20261026' -> (2, 23, -1, 20261026), after 2.22.x and before 2.23.0."""
    parts: list[int] = []
    for piece in version.split(" ", 1)[0].split("."):
        dev = re.match(r"dev(\d+)", piece)
        if dev is not None and parts:  # a nightly: before the release it leads to
            parts[-1] -= 1
            parts.append(int(dev.group(1)))
            break
        digits = re.match(r"\d+", piece)
        if digits is None:
            break
        parts.append(int(digits.group()))
    return tuple(parts)


@dataclass(frozen=True)
class Release:
    version: str
    package: str
    uploaded: str
    pythons: tuple[str, ...]
    # a nightly (tf-nightly): the keras-nightly build it is paired with (the newest uploaded
    # before it), and what resolving it substituted (the nearest build before a day)
    companion: str | None = None
    note: str = ""

    @property
    def nightly(self) -> bool:
        return ".dev" in self.version

    @property
    def key(self) -> tuple[int, ...]:
        return version_key(self.version)

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


@dataclass(frozen=True)
class Catalogue:
    releases: tuple[Release, ...]
    companions: dict[str, dict[str, str]]  # tf-keras / keras: version -> first upload time
    fetched: str
    source: str

    @cached_property
    def by_version(self) -> dict[str, Release]:
        return {r.version: r for r in self.releases}

    def latest_patch(self, minor: str) -> Release | None:
        matches = [r for r in self.releases if r.minor == minor]
        return max(matches, key=lambda r: r.key) if matches else None

    def minors(self) -> list[str]:
        return sorted({r.minor for r in self.releases}, key=version_key)

    def resolve(self, text: str) -> list[Release]:
        """Release text → releases.

        `2.16` → latest 2.16.x; `2.16.1` → exactly that; `2.12..2.15` → latest patch of each
        minor in between. An exact patch at either end of a range is kept as written.
        """
        text = text.strip()
        if ".." in text:
            lo, _, hi = text.partition("..")
            lo_r, hi_r = self._one(lo, text), self._one(hi, text)
            if lo_r.key > hi_r.key:
                raise UnknownReleaseError(
                    f"TensorFlow range '{text}' is empty: its start is after its end "
                    f"(write the older release first, e.g. 2.12..2.15)"
                )
            lo_minor, hi_minor = version_key(lo_r.minor), version_key(hi_r.minor)
            out = []
            for minor in self.minors():
                if lo_minor <= version_key(minor) <= hi_minor:
                    rel = self.latest_patch(minor)
                    if rel is not None:
                        out.append(rel)
            # an exact patch at either end of the range is honoured as written
            if lo.count(".") >= 2:
                out[0] = lo_r
            if hi.count(".") >= 2:
                out[-1] = hi_r
            if lo_minor == hi_minor and lo_r != hi_r and lo.count(".") >= 2:
                out = [lo_r, hi_r]  # 2.16.1..2.16.2 (or 2.16.1..2.16): both ends, not only the last
            return out
        return [self._one(text, text)]

    def _one(self, text: str, whole: str) -> Release:
        text = text.strip()
        if not _FINAL.match(text):
            raise UnknownReleaseError(
                f"'{whole}' is not a TensorFlow release: write a version such as 2.16, 2.16.1 "
                f"or a range such as 2.12..2.16"
            )
        rel = self.by_version.get(text) or (
            self.latest_patch(text) if text.count(".") == 1 else None
        )
        if rel is None:
            first, last = self.releases[0].version, self.releases[-1].version
            raise UnknownReleaseError(
                f"unknown TensorFlow release '{text}': the catalogue knows {first} … {last} "
                f"(see `tfrepro versions`; `tfrepro versions --refresh` updates it from the index)"
            )
        return rel

    def between(self, a: Release, b: Release) -> list[Release]:
        """Every release from a to b inclusive, patch releases included, oldest first."""
        lo, hi = sorted((a.key, b.key))
        return [r for r in self.releases if lo <= r.key <= hi]

    def companion_date(self, package: str, spec_prefix: str) -> str | None:
        """Upload time of the first release of a companion package (tf-keras) in a minor."""
        versions = self.companions.get(package, {})
        hits = [v for v in versions if v == spec_prefix or v.startswith(spec_prefix + ".")]
        if not hits:
            return None
        return versions[min(hits, key=version_key)]


def user_cache_dir() -> Path:
    import os

    root = os.environ.get("TFREPRO_CACHE") or os.environ.get("XDG_CACHE_HOME")
    base = Path(root) if root else Path.home() / ".cache"
    return base if os.environ.get("TFREPRO_CACHE") else base / "tfrepro"


def load() -> Catalogue:
    """The refreshed catalogue in the user cache if there is one, else the shipped snapshot."""
    cached = user_cache_dir() / "catalogue.json"
    path = cached if cached.exists() else SNAPSHOT
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CatalogueError(
            f"cannot read the release catalogue {path}: {exc} "
            f"(delete it and run `tfrepro versions --refresh`)"
        ) from exc
    return _from_json(data, str(path))


def _from_json(data: dict, source: str) -> Catalogue:
    releases = tuple(
        sorted(
            (
                Release(r["version"], r["package"], r["uploaded"], tuple(r["pythons"]))
                for r in data["releases"]
            ),
            key=lambda r: r.key,
        )
    )
    return Catalogue(releases, data.get("companions", {}), data.get("fetched", ""), source)


def _fetch_index(name: str) -> dict:
    req = urllib.request.Request(
        INDEX_URL.format(name=name), headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.load(resp)
    except OSError as exc:
        raise CatalogueError(
            f"cannot reach the package index for '{name}': {exc} "
            f"(the shipped snapshot keeps working offline)"
        ) from exc


def _linux_wheels(index: dict) -> dict[str, list[tuple[str, str]]]:
    """version -> [(python minor, upload time)] for manylinux x86_64 CPython wheels."""
    out: dict[str, list[tuple[str, str]]] = {}
    for f in index.get("files", []):
        m = _WHEEL.match(f["filename"])
        if not m or f.get("yanked"):
            continue
        plat, py = m["plat"], m["py"]
        if "x86_64" not in plat or "linux" not in plat:
            continue
        version = m["version"]
        if not _FINAL.match(version):
            continue
        for tag in py.split("."):
            if tag.startswith("cp3"):
                out.setdefault(version, []).append((f"3.{tag[3:]}", f["upload-time"]))
    return out


def _first_uploads(index: dict) -> dict[str, str]:
    first: dict[str, str] = {}
    for f in index.get("files", []):
        m = _WHEEL.match(f["filename"])
        if not m or not _FINAL.match(m["version"]):
            continue
        t = f["upload-time"]
        if m["version"] not in first or t < first[m["version"]]:
            first[m["version"]] = t
    return first


def build_from_index(fetch=_fetch_index) -> dict:  # type: ignore[no-untyped-def]
    """Build the catalogue document from the live index (fetch is replaceable in tests)."""
    cpu = _linux_wheels(fetch("tensorflow-cpu"))
    full = _linux_wheels(fetch("tensorflow"))
    releases = []
    for version in sorted(set(cpu) | set(full), key=version_key):
        if version_key(version) < (1, 15):
            continue  # TF 1.14 and older lack the eager Keras API the runner relies on
        package, wheels = (
            ("tensorflow-cpu", cpu[version])
            if version in cpu
            else (
                "tensorflow",
                full[version],
            )
        )
        pythons = sorted({p for p, _ in wheels}, key=version_key)
        releases.append(
            {
                "version": version,
                "package": package,
                "uploaded": min(t for _, t in wheels),
                "pythons": pythons,
            }
        )
    companions = {name: _first_uploads(fetch(name)) for name in ("tf-keras", "keras")}
    return {
        "fetched": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "platform": "manylinux x86_64",
        "releases": releases,
        "companions": companions,
    }


def refresh(path: Path | None = None) -> Catalogue:
    data = build_from_index()
    target = path or (user_cache_dir() / "catalogue.json")
    files.write_text(target, json.dumps(data, indent=1) + "\n")
    return _from_json(data, str(target))
