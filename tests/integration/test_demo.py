"""The README's main job: `tfrepro demo` runs end to end."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from tfrepro.analysis.divergence import STAGES

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
    explain = next(cmd for cmd in commands if cmd.startswith("tfrepro explain"))
    argv = shlex.split(explain)[1:]
    assert argv[1:3] == ["2.15.1", "2.21.0"]
    result = json.loads(ok(tfrepro(*argv, "--no-ablation", "--steps", "3", "--json",
                                   cwd=tmp_path, cache=env_cache)).stdout)
    assert set(result["stages"]) == set(STAGES)
    # measured: 2.15.1 (Keras 2) and 2.21.0 (Keras 3) agree bitwise at every stage here
    assert result["first_divergence"]["stage"] == "none"
