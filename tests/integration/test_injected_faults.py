"""Injected faults (tests/fixtures/fault_model.py): each changes exactly one thing between A and
B; explain must name the right stage and layer, on a Keras 2 (2.15) and a Keras 3 (2.21)
release. The probes run in warm workers (the default), so the fixture's per-cell registration
of a custom schedule also checks that a worker forgets it between cells."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .helpers import ok, tfrepro

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).parent.parent / "fixtures" / "fault_model.py"

# fault -> (first stage, words its "where" must contain)
EXPECTED = {
    "initializer": ("init", ["hidden"]),
    "config": ("config", ["bn", "epsilon"]),
    "forward": ("forward", ["scale"]),
    "gradient": ("gradient", ["hidden"]),
    "schedule": ("optimizer", ["hidden"]),
    "loss_term": ("loss", ["loss"]),
    "dropout_rate": ("config", ["dropout", "rate"]),
    "dropout_rng": ("train_forward", ["noise"]),
    "momentum": ("config", ["bn", "momentum"]),
    "train_step": ("trajectory", ["step 0"]),
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("faults")
    shutil.copy(FIXTURE, root / "fault_model.py")
    (root / "exp.toml").write_text(
        '[model]\nsource = "fault_model.py"\n[train]\nepochs = 1\nbatch_size = 32\n'
    )
    return root


def _explain(project: Path, cache: Path, tf: str, fault: str) -> dict:
    done = ok(
        tfrepro(
            "explain",
            f"tf={tf},INJECTED_FAULT=base",
            f"tf={tf},INJECTED_FAULT={fault}",
            "exp.toml",
            "--no-ablation",
            "--steps",
            "3",
            "--json",
            "--store",
            f"st-{tf}",
            cwd=project,
            cache=cache,
        )
    )
    return json.loads(done.stdout)


@pytest.mark.parametrize("tf", ["2.15", "2.21"])
@pytest.mark.parametrize("fault", list(EXPECTED))
def test_each_injected_fault_is_named_at_its_stage_and_layer(
    project: Path, env_cache: Path, tf: str, fault: str
) -> None:
    r = _explain(project, env_cache, tf, fault)
    stage, words = EXPECTED[fault]
    first = r["first_divergence"]
    assert first["stage"] == stage, (fault, first, r["stages"][stage])
    assert all(w in str(first["layer"]) for w in words), (fault, first)
    # every stage before it was measured and equal: nothing was skipped to get there
    assert not first.get("not_measured_before"), first


@pytest.mark.parametrize("tf", ["2.15", "2.21"])
def test_base_against_base_diverges_nowhere(project: Path, env_cache: Path, tf: str) -> None:
    r = _explain(project, env_cache, tf, "base")
    assert r["first_divergence"]["stage"] == "none", r["first_divergence"]
