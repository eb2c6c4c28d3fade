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


# the stages a bitwise-identical training run cannot differ in
TRAINING = ("loss", "gradient", "optimizer", "trajectory")


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
    result = json.loads(
        ok(
            tfrepro(*argv, "--no-ablation", "--steps", "3", "--json", cwd=tmp_path, cache=env_cache)
        ).stdout
    )
    assert set(result["stages"]) == set(STAGES)
    # Host-prepared data and stateless seeded initializers are the same in both releases on
    # any machine. The rest depends on the CPU's kernels (measured: every stage equal on an
    # AVX512-VNNI Intel; on an AMD EPYC the inference-mode softmax output differs by 2 ULPs
    # while loss, gradients, updates and the final weights stay bitwise equal), so what must
    # hold everywhere is that explain agrees with the run.
    stages = result["stages"]
    assert not stages["data"]["diverged"] and not stages["init"]["diverged"]
    final = {c["tf_version"]: c["final_weights_sha256"] for c in recorded if c["seed"] == 0}
    if final["2.15.1"] == final["2.21.0"]:  # training identical: explain finds nothing in it
        assert not any(stages[s]["diverged"] for s in TRAINING), stages
    else:
        assert result["first_divergence"]["stage"] != "none", stages
