"""tfrepro.plan: spec → cells, with ids that are stable and change exactly when a cell does."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tfrepro import spec as spec_mod
from tfrepro.envs.catalogue import Catalogue, version_key
from tfrepro.envs.interpreters import Interpreter
from tfrepro.plan import Cell, environments, plan
from tfrepro.tasks.planning import Options, make_plan

DATA = "d" * 64


def cells_for(
    cat: Catalogue,
    interps: dict[str, Interpreter],
    raw: dict[str, Any] | None = None,
    *,
    data_sha: str = DATA,
    model_sha: str | None = None,
    preferred: str = "3.11",
    forced: Interpreter | None = None,
) -> list[Cell]:
    s = spec_mod.from_dict(raw or {})
    releases = [r for text in (s.matrix.tf or ["2.16"]) for r in cat.resolve(text)]
    return plan(
        s,
        releases,
        cat,
        interps,
        preferred,
        data_sha256=data_sha,
        model_sha256=model_sha,
        forced_python=forced,
    )


def ids(cells: list[Cell]) -> list[str]:
    return [c.id for c in cells]


def test_ids_are_stable_across_calls(cat: Catalogue, interps: dict[str, Interpreter]) -> None:
    raw = {"matrix": {"tf": ["2.15", "2.16"], "seeds": [0, 1], "knobs": {"threads": [1, 2]}}}
    first, second = cells_for(cat, interps, raw), cells_for(cat, interps, raw)
    assert ids(first) == ids(second)
    assert len(set(ids(first))) == len(first) == 2 * 2 * 2


def test_a_cell_keeps_its_id_when_the_matrix_grows(
    cat: Catalogue, interps: dict[str, Interpreter]
) -> None:
    """Resume depends on this: adding seeds or releases must not rename existing cells."""
    small = cells_for(cat, interps, {"matrix": {"tf": ["2.16"], "seeds": [0]}})
    big = cells_for(cat, interps, {"matrix": {"tf": ["2.15", "2.16"], "seeds": [2, 0, 1]}})
    assert set(ids(small)) <= set(ids(big))


def one_id(cat: Catalogue, interps: dict[str, Interpreter], raw: dict[str, Any], **kw: Any) -> str:
    cells = cells_for(cat, interps, raw, **kw)
    assert len(cells) == 1
    return cells[0].id


@pytest.mark.parametrize(
    "change",
    [
        {"matrix": {"seeds": [1]}},
        {"matrix": {"knobs": {"threads": [2]}}},
        {"matrix": {"knobs": {"determinism": [False]}}},
        {"matrix": {"knobs": {"onednn": ["off"]}}},
        {"matrix": {"env": {"OMP_NUM_THREADS": ["1"]}}},
        {"matrix": {"keras": ["3.3.3"]}},
        {"matrix": {"resolution": "latest"}},
        {"matrix": {"requirements": ["pandas==2.0.3"]}},
        {"train": {"epochs": 4}},
        {"train": {"learning_rate": 0.01}},
        {"model": {"hidden": 32}},
        {"model": {"source": "builtin:cnn"}},
        {"data": {"shuffle": "none"}},
        {"params": {"dropout": 0.1}},
    ],
)
def test_id_changes_with_anything_that_defines_the_cell(
    cat: Catalogue, interps: dict[str, Interpreter], change: dict[str, Any]
) -> None:
    base = one_id(cat, interps, {})
    assert one_id(cat, interps, change) != base


def test_id_changes_with_the_data_and_the_model_file_content(
    cat: Catalogue, interps: dict[str, Interpreter]
) -> None:
    base = one_id(cat, interps, {}, model_sha="a" * 64)
    assert one_id(cat, interps, {}, model_sha="a" * 64) == base
    assert one_id(cat, interps, {}, model_sha="b" * 64) != base
    assert one_id(cat, interps, {}, model_sha="a" * 64, data_sha="e" * 64) != base


def test_id_changes_with_the_release_and_the_python_minor(
    cat: Catalogue, interps: dict[str, Interpreter]
) -> None:
    base = one_id(cat, interps, {})
    assert one_id(cat, interps, {"matrix": {"tf": ["2.16.1"]}}) != base
    assert one_id(cat, interps, {}, preferred="3.10") != base


def test_name_and_timeout_do_not_change_ids(
    cat: Catalogue, interps: dict[str, Interpreter]
) -> None:
    base = one_id(cat, interps, {})
    assert one_id(cat, interps, {"name": "renamed", "timeout": 5}) == base


def test_model_file_content_changes_the_id_through_make_plan(tmp_path: Path) -> None:
    model = tmp_path / "net.py"
    model.write_text("def build_model(ctx):\n    return 1\n")
    raw = {"model": {"source": "net.py"}, "matrix": {"tf": ["2.16"]}, "data": {"name": "iris"}}
    opts = Options(python=sys.executable)

    def plan_ids() -> list[str]:
        s = spec_mod.from_dict(raw, base_dir=tmp_path)
        return ids(make_plan(s, opts).cells)

    first = plan_ids()
    assert plan_ids() == first
    model.write_text("def build_model(ctx):\n    return 2\n")
    assert plan_ids() != first


def test_matrix_is_the_full_product(cat: Catalogue, interps: dict[str, Interpreter]) -> None:
    raw = {
        "matrix": {
            "tf": ["2.12..2.13"],
            "seeds": [0, 1, 2],
            "keras": ["2.12.0"],
            "env": {"A": ["1", "2"]},
            "knobs": {"onednn": ["on", "off"]},
        }
    }
    cells = cells_for(cat, interps, raw)
    assert len(cells) == 2 * 3 * 2 * 2
    assert {c.tf_version for c in cells} == {"2.12.1", "2.13.1"}
    assert {c.env_vars for c in cells} == {(("A", "1"),), (("A", "2"),)}
    # releases come out oldest first
    assert [c.tf_version for c in cells] == sorted((c.tf_version for c in cells), key=version_key)


def test_duplicate_releases_give_each_cell_once(
    cat: Catalogue, interps: dict[str, Interpreter]
) -> None:
    cells = cells_for(cat, interps, {"matrix": {"tf": ["2.16", "2.16.2"]}})
    assert len(cells) == 1


def test_interpreter_choice_per_release(cat: Catalogue, interps: dict[str, Interpreter]) -> None:
    cells = cells_for(cat, interps, {"matrix": {"tf": ["2.12", "2.16", "2.21"]}}, preferred="3.9")
    by = {c.tf_version: c.env.python_version for c in cells}
    # 2.21 has no 3.9 wheels, so it gets the nearest minor found
    assert by == {"2.12.1": "3.9.18", "2.16.2": "3.9.18", "2.21.0": "3.10.13"}


def test_forced_python_is_added_to_the_choice(
    cat: Catalogue, interps: dict[str, Interpreter]
) -> None:
    forced = Interpreter("/custom/python3.11", "3.11.9")
    cells = cells_for(cat, interps, {}, forced=forced)
    assert cells[0].env.python == "/custom/python3.11"
    assert cells[0].env.python_version == "3.11.9"


def test_era_resolution_excludes_packages_newer_than_a_day_after_the_release(
    cat: Catalogue, interps: dict[str, Interpreter]
) -> None:
    (cell,) = cells_for(cat, interps, {"matrix": {"tf": ["2.16.2"]}})
    uploaded = datetime.fromisoformat(cat.by_version["2.16.2"].uploaded.replace("Z", "+00:00"))
    expected = (uploaded + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert cell.env.exclude_newer == expected
    assert cell.env.resolution == "era"
    assert cell.env.requirements == ("tensorflow-cpu==2.16.2",)


def test_legacy_keras_pins_tf_keras_without_deps_and_moves_the_era(
    cat: Catalogue, interps: dict[str, Interpreter]
) -> None:
    (cell,) = cells_for(
        cat, interps, {"matrix": {"tf": ["2.16.1"], "knobs": {"legacy_keras": [True]}}}
    )
    assert cell.env.no_deps == ("tf-keras~=2.16.0",)
    tf_keras_first = cat.companion_date("tf-keras", "2.16")
    assert tf_keras_first is not None
    newest = max(tf_keras_first, cat.by_version["2.16.1"].uploaded)
    assert cell.env.exclude_newer is not None and cell.env.exclude_newer > newest[:19]


def test_latest_resolution_pins_known_incompatibilities(
    cat: Catalogue, interps: dict[str, Interpreter]
) -> None:
    cells = cells_for(
        cat,
        interps,
        {"matrix": {"tf": ["2.5", "2.11", "2.16"], "resolution": "latest"}},
        preferred="3.8",
    )
    reqs = {c.tf_version.rsplit(".", 1)[0]: c.env.requirements for c in cells}
    assert "protobuf<4" in reqs["2.5"] and "numpy<2" in reqs["2.5"]
    assert "protobuf<4" not in reqs["2.11"] and "numpy<2" in reqs["2.11"]
    assert not any(r.startswith(("protobuf", "numpy")) for r in reqs["2.16"])
    assert all(c.env.exclude_newer is None for c in cells)


def test_gpu_device_uses_the_full_wheel(cat: Catalogue, interps: dict[str, Interpreter]) -> None:
    cells = cells_for(
        cat, interps, {"matrix": {"tf": ["2.16"], "knobs": {"device": ["cpu", "gpu"]}}}
    )
    reqs = {c.knobs["device"]: c.env.requirements[0] for c in cells}
    assert reqs == {"cpu": "tensorflow-cpu==2.16.2", "gpu": "tensorflow[and-cuda]==2.16.2"}


def test_environments_are_shared_by_cells_and_listed_oldest_first(
    cat: Catalogue, interps: dict[str, Interpreter]
) -> None:
    raw = {
        "matrix": {
            "tf": ["2.9", "2.16", "2.10"],
            "seeds": [0, 1, 2],
            "knobs": {"threads": [1, 2], "legacy_keras": [False, True]},
        }
    }
    cells = cells_for(cat, interps, raw, preferred="3.10")
    envs = environments(cells)
    # legacy_keras only changes the environment from 2.16 on; seeds and threads never do
    assert [e.tf_version for e in envs] == ["2.9.3", "2.10.1", "2.16.2", "2.16.2"]
    assert len({e.key for e in envs}) == 4
    assert len({e.name for e in envs}) == 4
    assert all(e.name.startswith(f"tf{e.tf_version}-py3.10-era-") for e in envs)


def test_describe_shows_only_what_differs_from_the_defaults(
    cat: Catalogue, interps: dict[str, Interpreter]
) -> None:
    cells = cells_for(
        cat,
        interps,
        {"matrix": {"seeds": [7], "knobs": {"threads": [1, 4]}, "env": {"OMP_NUM_THREADS": ["2"]}}},
    )
    texts = sorted(c.describe() for c in cells)
    assert texts == [
        "tf 2.16.2 py3.11.7 seed 7  OMP_NUM_THREADS=2",
        "tf 2.16.2 py3.11.7 seed 7 threads=4 OMP_NUM_THREADS=2",
    ]
