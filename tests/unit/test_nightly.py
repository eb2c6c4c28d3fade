"""Nightly builds: the index read, what users write resolved to builds, the commit windows."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tfrepro.envs import catalogue, nightly
from tfrepro.errors import UnknownReleaseError


def _file(name: str, when: str) -> dict[str, Any]:
    return {"filename": name, "upload-time": when}


INDEX = {
    "files": [
        _file("tf_nightly-2.23.0.dev20261024-cp311-cp311-manylinux_2_27_x86_64.whl",
              "2026-10-24T20:00:00Z"),
        _file("tf_nightly-2.23.0.dev20261024-cp312-cp312-manylinux_2_27_x86_64.whl",
              "2026-10-24T19:00:00Z"),
        _file("tf_nightly-2.23.0.dev20261024-cp311-cp311-win_amd64.whl", "2026-10-24T18:00:00Z"),
        _file("tf_nightly-2.23.0.dev20261026-cp311-cp311-manylinux_2_27_x86_64.whl",
              "2026-10-26T20:00:00Z"),
        _file("tf_nightly-2.22.0.dev20260901-cp311-cp311-manylinux_2_27_x86_64.whl",
              "2026-09-01T20:00:00Z"),
        _file("tf_nightly-2.23.0.dev20261025-cp311-cp311-macosx_12_0_arm64.whl",
              "2026-10-25T20:00:00Z"),  # no Linux wheel: not a build here
        _file("tf_nightly-2.20.0-cp311-cp311-manylinux_2_27_x86_64.whl", "2026-01-01T00:00:00Z"),
    ]
}  # fmt: skip


def test_the_index_gives_linux_builds_oldest_first_with_their_first_upload() -> None:
    builds = nightly.from_index(INDEX, nightly.TF)
    assert [b.version for b in builds] == [
        "2.22.0.dev20260901", "2.23.0.dev20261024", "2.23.0.dev20261026"
    ]  # fmt: skip
    assert builds[1].pythons == ("3.11", "3.12")
    assert builds[1].uploaded == "2026-10-24T19:00:00Z"
    assert builds[1].day == date(2026, 10, 24)
    wheel = _file("keras_nightly-3.7.0.dev2024110803-py3-none-any.whl", "2024-11-08T03:10Z")
    keras = nightly.from_index({"files": [wheel]}, nightly.KERAS)
    assert keras[0].pythons == ("any",) and keras[0].stamp == 2024110803


@pytest.mark.parametrize(
    ("text", "want", "note"),
    [
        ("nightly", ["2.23.0.dev20261026"], ""),
        ("nightly-20261024", ["2.23.0.dev20261024"], ""),
        ("nightly-2026-10-25", ["2.23.0.dev20261024"], "no tf-nightly build on 2026-10-25"),
        ("2.22.0.dev20260901", ["2.22.0.dev20260901"], ""),
        ("nightly-20260901..nightly-20261024", ["2.22.0.dev20260901", "2.23.0.dev20261024"], ""),
    ],
)
def test_what_users_write_resolves_to_builds(text: str, want: list[str], note: str) -> None:
    builds = nightly.from_index(INDEX, nightly.TF)
    found, notes = nightly.resolve(text, builds, nightly.TF)
    assert [b.version for b in found] == want
    assert (note in notes[0]) if note else notes == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nightly-20250101", "no tf-nightly build on or before 2025-01-01"),
        ("nightly-20261332", "not a calendar date"),
        ("nightly-tomorrow", "is not a nightly"),
        ("2.23.0.dev20261025", "not in the package index"),
        ("nightly-20261026..nightly-20261024", "write the older day first"),
    ],
)
def test_nightlies_that_do_not_exist_get_one_line(text: str, message: str) -> None:
    with pytest.raises(UnknownReleaseError, match=message):
        nightly.resolve(text, nightly.from_index(INDEX, nightly.TF), nightly.TF)


def test_nightlies_sort_after_the_releases_before_them_and_before_their_own() -> None:
    key = catalogue.version_key
    assert key("2.22.1") < key("2.23.0.dev20261024") < key("2.23.0.dev20261026") < key("2.23.0")
    assert key("3.6.0") < key("3.7.0.dev2024110803") < key("3.7.0")


def test_the_commit_window_links_the_log_between_two_days() -> None:
    assert nightly.commit_window(nightly.TF, date(2026, 10, 24), "2026-10-26") == (
        "https://github.com/tensorflow/tensorflow/commits/master/?since=2026-10-24&until=2026-10-26"
    )
    assert "keras-team/keras" in nightly.commit_window(nightly.KERAS, "2024-10-16", "2024-10-25")


def test_a_stale_list_is_used_when_the_index_cannot_be_reached(tmp_path: Any, monkeypatch) -> None:
    from tfrepro.errors import CatalogueError

    monkeypatch.setenv("TFREPRO_CACHE", str(tmp_path))
    assert [b.version for b in nightly.builds(nightly.TF, fetch=lambda name: INDEX)][-1] == (
        "2.23.0.dev20261026"
    )

    def offline(name: str) -> dict:
        raise CatalogueError("cannot reach the package index")

    # fresh: the cache answers without asking; refresh while offline: the stale list
    assert len(nightly.builds(nightly.TF, fetch=offline)) == 3
    assert len(nightly.builds(nightly.TF, refresh=True, fetch=offline)) == 3
    (tmp_path / f"{nightly.TF}.json").unlink()
    with pytest.raises(CatalogueError):
        nightly.builds(nightly.TF, fetch=offline)


def test_a_tf_nightly_environment_pins_the_keras_nightly_of_its_day() -> None:
    from tfrepro.envs.interpreters import Interpreter
    from tfrepro.envs.request import env_request

    rel = catalogue.Release("2.23.0.dev20261026", nightly.TF, "2026-10-26T20:00:00Z",
                            ("3.11",), companion="3.16.0.dev2026102603")  # fmt: skip
    interp = Interpreter("/usr/bin/python3.11", "3.11.7")
    nightly._MEMO[nightly.KERAS] = []  # no upload time known: the TF build's era alone
    try:
        req = env_request(catalogue.load(), rel, interp, "era", keras=None, legacy_keras=False,
                          device="cpu", requirements=())  # fmt: skip
        final = env_request(catalogue.load(), rel, interp, "era", keras="3.12.0",
                            legacy_keras=False, device="cpu", requirements=())  # fmt: skip
    finally:
        nightly._MEMO.pop(nightly.KERAS)
    assert req.requirements[:2] == (
        "tf-nightly==2.23.0.dev20261026",
        "keras-nightly==3.16.0.dev2026102603",
    )
    assert req.overrides == ("keras; sys_platform == 'never'",)
    assert req.exclude_newer == "2026-10-27T20:00:00Z"
    # a Keras release on a TF nightly replaces the keras-nightly TF asks for
    assert "keras==3.12.0" in final.requirements
    assert final.overrides == ("keras-nightly; sys_platform == 'never'",)
