"""tfrepro.envs.catalogue: release resolution, ranges, era dates and the index parser."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tfrepro.envs import catalogue as catalogue_mod
from tfrepro.envs.catalogue import Catalogue, version_key
from tfrepro.errors import CatalogueError, UnknownReleaseError, UsageError


def small() -> Catalogue:
    """A made-up catalogue, listed out of order on purpose."""
    rel = [
        ("2.16.2", "2024-06-28T00:00:00Z", ["3.9", "3.10", "3.11", "3.12"]),
        ("2.12.0", "2023-03-20T00:00:00Z", ["3.8", "3.9", "3.10", "3.11"]),
        ("2.16.1", "2024-03-08T00:00:00Z", ["3.9", "3.10", "3.11", "3.12"]),
        ("2.13.1", "2023-09-27T00:00:00Z", ["3.8", "3.9", "3.10", "3.11"]),
        ("2.13.0", "2023-07-05T00:00:00Z", ["3.8", "3.9", "3.10", "3.11"]),
        ("2.9.3", "2022-11-15T00:00:00Z", ["3.7", "3.8", "3.9", "3.10"]),
        ("2.10.0", "2022-09-06T00:00:00Z", ["3.7", "3.8", "3.9", "3.10"]),
        ("2.12.1", "2023-07-05T00:00:00Z", ["3.8", "3.9", "3.10", "3.11"]),
    ]
    data = {
        "fetched": "2025-01-01T00:00:00Z",
        "releases": [
            {"version": v, "package": "tensorflow-cpu", "uploaded": u, "pythons": p}
            for v, u, p in rel
        ],
        "companions": {
            "tf-keras": {"2.16.0": "2024-03-09T02:00:00Z", "2.16.1": "2024-06-01T00:00:00Z"}
        },
    }
    return catalogue_mod._from_json(data, "test")


def versions(releases: list[Any]) -> list[str]:
    return [r.version for r in releases]


def test_releases_are_sorted_numerically_not_as_text() -> None:
    assert versions(list(small().releases)) == [
        "2.9.3",
        "2.10.0",
        "2.12.0",
        "2.12.1",
        "2.13.0",
        "2.13.1",
        "2.16.1",
        "2.16.2",
    ]
    assert small().minors() == ["2.9", "2.10", "2.12", "2.13", "2.16"]


def test_minor_resolves_to_its_newest_patch() -> None:
    c = small()
    assert versions(c.resolve("2.16")) == ["2.16.2"]
    assert versions(c.resolve("2.12")) == ["2.12.1"]
    assert versions(c.resolve(" 2.9 ")) == ["2.9.3"]


def test_exact_patch_resolves_to_itself() -> None:
    assert versions(small().resolve("2.16.1")) == ["2.16.1"]


def test_range_gives_newest_patch_of_every_minor_in_between() -> None:
    # 2.11 does not exist in this catalogue and is simply absent
    assert versions(small().resolve("2.10..2.16")) == ["2.10.0", "2.12.1", "2.13.1", "2.16.2"]


def test_range_honours_exact_patches_at_either_end() -> None:
    assert versions(small().resolve("2.12.0..2.13.0")) == ["2.12.0", "2.13.0"]
    assert versions(small().resolve("2.12.0..2.13")) == ["2.12.0", "2.13.1"]


def test_range_within_one_minor_keeps_both_ends() -> None:
    assert versions(small().resolve("2.16.1..2.16.2")) == ["2.16.1", "2.16.2"]
    assert versions(small().resolve("2.16.1..2.16")) == ["2.16.1", "2.16.2"]
    assert versions(small().resolve("2.16.2..2.16.2")) == ["2.16.2"]
    assert versions(small().resolve("2.16..2.16")) == ["2.16.2"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2.99", "unknown TensorFlow release '2.99'"),
        ("2.16.9", "unknown TensorFlow release '2.16.9'"),
        ("banana", "'banana' is not a TensorFlow release"),
        ("2.16rc0", "is not a TensorFlow release"),
        ("", "is not a TensorFlow release"),
        ("2.16..", "'2.16..' is not a TensorFlow release"),
        ("2.16..2.12", "range '2.16..2.12' is empty"),
        ("2.10..2.99", "unknown TensorFlow release '2.99'"),
    ],
)
def test_bad_release_text(text: str, expected: str) -> None:
    with pytest.raises(UnknownReleaseError) as info:
        small().resolve(text)
    assert expected in str(info.value)
    assert isinstance(info.value, UsageError) and info.value.exit_code == 2


def test_unknown_release_message_names_the_known_span() -> None:
    with pytest.raises(UnknownReleaseError, match=r"knows 2\.9\.3 … 2\.16\.2"):
        small().resolve("3.0")


def test_between_includes_every_patch() -> None:
    c = small()
    a, b = c.by_version["2.13.1"], c.by_version["2.12.0"]
    assert versions(c.between(a, b)) == ["2.12.0", "2.12.1", "2.13.0", "2.13.1"]


def test_companion_date_is_the_first_upload_of_the_minor() -> None:
    c = small()
    assert c.companion_date("tf-keras", "2.16") == "2024-03-09T02:00:00Z"
    assert c.companion_date("tf-keras", "2.16.1") == "2024-06-01T00:00:00Z"
    assert c.companion_date("tf-keras", "2.1") is None  # a prefix, not 2.16
    assert c.companion_date("keras", "3.0") is None


def test_release_properties() -> None:
    r = small().by_version["2.16.2"]
    assert r.minor == "2.16"
    assert r.key == (2, 16, 2)
    assert version_key("2.10.0") > version_key("2.9.3")


# --- the shipped snapshot ---------------------------------------------------------------------


def test_load_uses_the_snapshot_without_a_user_cache(cat: Catalogue) -> None:
    assert cat.source == str(catalogue_mod.SNAPSHOT)
    assert len(cat.releases) > 20


def test_snapshot_newest_patch_of_a_minor(cat: Catalogue) -> None:
    for minor in ("2.12", "2.15", "2.16"):
        newest = max(
            (r for r in cat.releases if r.version.startswith(minor + ".")), key=lambda r: r.key
        )
        assert cat.resolve(minor) == [newest]


def test_snapshot_is_well_formed(cat: Catalogue) -> None:
    seen = set()
    for r in cat.releases:
        assert r.version not in seen
        seen.add(r.version)
        assert r.package in ("tensorflow", "tensorflow-cpu")
        assert r.pythons and list(r.pythons) == sorted(r.pythons, key=version_key)
        assert r.uploaded.endswith("Z")
    assert [r.key for r in cat.releases] == sorted(r.key for r in cat.releases)


def test_snapshot_range_is_one_release_per_minor(cat: Catalogue) -> None:
    got = cat.resolve("2.12..2.16")
    assert [r.minor for r in got] == ["2.12", "2.13", "2.14", "2.15", "2.16"]
    assert got == [cat.latest_patch(r.minor) for r in got]


def test_refreshed_catalogue_in_the_user_cache_takes_precedence(_isolated: Path) -> None:
    _isolated.mkdir(parents=True)
    doc = {
        "fetched": "x",
        "releases": [
            {
                "version": "9.9.9",
                "package": "tensorflow",
                "uploaded": "2030-01-01T00:00:00Z",
                "pythons": ["3.14"],
            }
        ],
    }
    (_isolated / "catalogue.json").write_text(json.dumps(doc))
    c = catalogue_mod.load()
    assert versions(c.resolve("9.9")) == ["9.9.9"]
    assert c.source == str(_isolated / "catalogue.json")


def test_corrupt_user_catalogue_is_a_clear_error(_isolated: Path) -> None:
    _isolated.mkdir(parents=True)
    (_isolated / "catalogue.json").write_text("{not json")
    with pytest.raises(CatalogueError, match="versions --refresh"):
        catalogue_mod.load()


# --- building from the index -----------------------------------------------------------------


def _file(name: str, when: str, yanked: bool = False) -> dict[str, Any]:
    return {"filename": name, "upload-time": when, "yanked": yanked}


def fake_index(name: str) -> dict[str, Any]:
    lin = "manylinux_2_17_x86_64.manylinux2014_x86_64"
    indexes = {
        "tensorflow-cpu": [
            _file(f"tensorflow_cpu-2.16.1-cp311-cp311-{lin}.whl", "2024-03-09T00:00:02Z"),
            _file(f"tensorflow_cpu-2.16.1-cp39-cp39-{lin}.whl", "2024-03-09T00:00:01Z"),
            _file(f"tensorflow_cpu-2.16.1-cp310-cp310-{lin}.whl", "2024-03-09T00:00:03Z"),
            _file("tensorflow_cpu-2.16.1-cp312-cp312-win_amd64.whl", "2024-03-08T00:00:00Z"),
            _file(f"tensorflow_cpu-2.17.0rc0-cp311-cp311-{lin}.whl", "2024-06-01T00:00:00Z"),
            _file(
                f"tensorflow_cpu-2.16.0-cp311-cp311-{lin}.whl", "2024-03-01T00:00:00Z", yanked=True
            ),
            _file("tensorflow_cpu-2.16.1.tar.gz", "2024-03-09T00:00:00Z"),
        ],
        "tensorflow": [
            _file(f"tensorflow-2.16.1-cp311-cp311-{lin}.whl", "2024-03-08T00:00:00Z"),
            _file(f"tensorflow-1.14.0-cp37-cp37m-{lin}.whl", "2019-06-01T00:00:00Z"),
            _file(f"tensorflow-2.1.0-cp37-cp37m-{lin}.whl", "2020-01-08T00:00:00Z"),
            _file("tensorflow-2.1.0-cp37-cp37m-macosx_10_11_x86_64.whl", "2020-01-01T00:00:00Z"),
        ],
        "tf-keras": [
            _file("tf_keras-2.16.0-py3-none-any.whl", "2024-03-09T02:00:00Z"),
            _file("tf_keras-2.16.0rc0-py3-none-any.whl", "2024-02-01T00:00:00Z"),
        ],
        "keras": [],
    }
    return {"files": indexes[name]}


def test_build_from_index_prefers_cpu_wheels_and_skips_what_cannot_be_used() -> None:
    doc = catalogue_mod.build_from_index(fetch=fake_index)
    by = {r["version"]: r for r in doc["releases"]}
    # 1.14 is too old, 2.17.0rc0 is a pre-release, 2.16.0 was yanked
    assert list(by) == ["2.1.0", "2.16.1"]
    assert by["2.16.1"]["package"] == "tensorflow-cpu"
    assert by["2.16.1"]["pythons"] == ["3.9", "3.10", "3.11"]  # linux only, numeric order
    assert by["2.16.1"]["uploaded"] == "2024-03-09T00:00:01Z"  # first linux cpu wheel
    assert by["2.1.0"]["package"] == "tensorflow"
    assert by["2.1.0"]["uploaded"] == "2020-01-08T00:00:00Z"
    assert doc["companions"]["tf-keras"] == {"2.16.0": "2024-03-09T02:00:00Z"}
    c = catalogue_mod._from_json(doc, "index")
    assert versions(c.resolve("2.1..2.16")) == ["2.1.0", "2.16.1"]


def test_version_key_is_the_hosts_one_parser() -> None:
    from tfrepro.envs.catalogue import version_key

    assert version_key("2.16.1") == (2, 16, 1)
    assert version_key("2.16.0rc1") == (2, 16, 0)
    assert version_key("2.15.1 onednn=on") == (2, 15, 1)
    assert version_key("all") == ()
    assert sorted(["2.9.3", "2.10.0", "1.15.5"], key=version_key) == ["1.15.5", "2.9.3", "2.10.0"]
