"""Tomorrow's TensorFlow on real wheels from the package index: a demo cell on the newest
tf-nightly, and `bisect --keras` (TF 2.18, Keras 3.6.0 -> 3.7.0: the demo MLP's final weights
change) down to two adjacent keras-nightly builds, checked by running those builds again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import cells, ok, tfrepro

pytestmark = pytest.mark.integration


def test_a_demo_cell_runs_on_the_newest_nightly(tmp_path: Path, env_cache: Path) -> None:
    store = tmp_path / "store"
    done = ok(tfrepro("run", "--tf", "nightly", "--seeds", "0", "--store", store,
                      cwd=tmp_path, cache=env_cache))  # fmt: skip
    assert "pre-release" in done.stdout + done.stderr
    (cell,) = cells(store, tmp_path, env_cache)
    assert cell["status"] == "ok", cell.get("reason")
    assert ".dev" in cell["tf_version"] and ".dev" in cell["keras_version"]


def test_bisect_keras_ends_on_two_adjacent_nightly_builds(tmp_path: Path, env_cache: Path) -> None:
    store = tmp_path / "store"
    done = ok(tfrepro("bisect", "--keras", "--good", "3.6.0", "--bad", "3.7.0", "--tf", "2.18",
                      "--store", store, "--json", cwd=tmp_path, cache=env_cache))  # fmt: skip
    r = json.loads(done.stdout)
    assert r["status"] == "found" and r["axis"] == "keras", r
    good, bad = r["last_good"], r["first_bad"]
    assert ".dev" in good and ".dev" in bad
    window = r["window"]
    assert window["commits"].startswith("https://github.com/keras-team/keras/commits/master/")
    assert window["last_good"]["day"] <= window["first_bad"]["day"]
    # by hand: a fresh store, the four versions side by side on seed 0
    spec = tmp_path / "keras.toml"
    spec.write_text(f'[matrix]\ntf = ["2.18"]\nseeds = [0]\n'
                    f'keras = ["3.6.0", "{good}", "{bad}", "3.7.0"]\n')  # fmt: skip
    again = tmp_path / "again"
    ok(tfrepro("run", spec, "--store", again, cwd=tmp_path, cache=env_cache))
    found = cells(again, tmp_path, env_cache)
    final = {c["keras_version"]: c["final_weights_sha256"] for c in found}
    assert final["3.6.0"] != final["3.7.0"]
    assert final[good] == final["3.6.0"] and final[bad] == final["3.7.0"], final


def test_bisect_between_two_nightlies_names_the_window(tmp_path: Path, env_cache: Path) -> None:
    """The demo MLP's final weights change between the tf-nightly builds of 2026-10-23 and
    2026-10-24 (found by `bisect --good 2.21 --bad nightly` here): bisect over those two ends
    on them, with both GIT_VERSIONs, the commit log between their days, and the Keras swap
    (the 10-24 build with the 10-23 Keras still differs: the change is in TensorFlow)."""
    done = ok(tfrepro("bisect", "--good", "nightly-20261023", "--bad", "nightly-20261024",
                      "--store", tmp_path / "store", "--json", cwd=tmp_path,
                      cache=env_cache))  # fmt: skip
    r = json.loads(done.stdout)
    assert r["status"] == "found", r
    assert (r["last_good"], r["first_bad"]) == ("2.23.0.dev20261023", "2.23.0.dev20261024")
    w = r["window"]
    assert w["commits"] == ("https://github.com/tensorflow/tensorflow/commits/master/"
                            "?since=2026-10-23&until=2026-10-24")  # fmt: skip
    assert w["last_good"]["git_version"] and w["first_bad"]["git_version"]
    assert w["last_good"]["git_version"] != w["first_bad"]["git_version"]
    assert "the change is in TF" in w["keras_swap"]
