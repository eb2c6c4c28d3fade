"""The README's main job: `tfrepro demo` runs end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import cells, ok, tfrepro

pytestmark = pytest.mark.integration


def test_demo_runs_three_releases_across_keras_2_and_3(tmp_path: Path, env_cache: Path) -> None:
    done = ok(tfrepro("demo", "--store", "st", cwd=tmp_path, cache=env_cache))
    assert "Summary per TensorFlow release" in done.stdout
    recorded = cells(tmp_path / "st", tmp_path, env_cache)
    assert len(recorded) == 9
    assert {c["status"] for c in recorded} == {"ok"}
    keras_majors = {c["keras_version"].split(".")[0] for c in recorded}
    assert keras_majors == {"2", "3"}
    assert len({c["tf_version"] for c in recorded}) == 3
