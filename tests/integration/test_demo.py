"""The README's main job: `tfrepro demo` runs end to end."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from tfrepro.analysis.stages import STAGES

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
    # the run ends by naming the next commands; the explain it suggests works as printed
    (hint,) = [line for line in done.stdout.splitlines() if line.startswith("next: ")]
    assert "`tfrepro compare --store st`" in hint and "`tfrepro report --store st`" in hint
    commands = re.findall(r"`([^`]+)`", hint)
    final = {c["tf_version"]: c["final_weights_sha256"] for c in recorded if c["seed"] == 0}
    explain = next((cmd for cmd in commands if cmd.startswith("tfrepro explain")), None)
    if explain is None:  # only when every release trained bitwise identically
        assert "trained bitwise identically" in hint and len(set(final.values())) == 1
        return
    argv = shlex.split(explain)[1:]
    a, b = argv[1:3]
    # the suggested pair is one that differs (measured here: 2.15 → 2.16, Keras 3), never an
    # identical pair such as 2.15 → 2.21
    assert final[a] != final[b], (hint, final)
    result = json.loads(
        ok(
            tfrepro(*argv, "--no-ablation", "--steps", "3", "--json", cwd=tmp_path, cache=env_cache)
        ).stdout
    )
    assert set(result["stages"]) == set(STAGES)
    # Host-prepared data and stateless seeded initializers are the same in both releases
    stages = result["stages"]
    assert not stages["data"]["diverged"] and not stages["init"]["diverged"]
    # the training differed, so explain finds where
    assert result["first_divergence"]["stage"] != "none", stages
