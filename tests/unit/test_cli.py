"""tfrepro.cli happy paths that need no environment: dry runs, cells, envs, versions."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from tfrepro import __version__, cli
from tfrepro.cli import parser
from tfrepro.store import Store


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_dry_run_lists_every_cell_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "--tf", "2.15,2.16", "--seeds", "0..2", "--python", sys.executable, "--dry-run"]
    assert cli.main(argv) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.strip().splitlines()
    assert lines[-1] == "6 cells (dry run: nothing was run)"
    assert sum("tf 2.15.1" in ln for ln in lines) == 3
    assert sum("tf 2.16.2" in ln for ln in lines) == 3
    assert not (tmp_path / ".tfrepro").exists()
    # the same command plans the same ids
    assert cli.main(argv) == 0
    assert capsys.readouterr().out == out


def test_dry_run_of_a_spec_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "net.py").write_text("def build_model(ctx):\n    return None\n")
    (tmp_path / "exp.toml").write_text(
        '[model]\nsource = "net.py"\n[data]\nname = "wine"\n'
        '[matrix]\ntf = ["2.16"]\nseeds = [0, 1]\n[matrix.knobs]\nthreads = [1, 2]\n'
    )
    assert cli.main(["run", "exp.toml", "--python", sys.executable, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == "4 cells (dry run: nothing was run)"
    assert "threads=2" in out


def test_demo_dry_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo", "--python", sys.executable, "--dry-run"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "9 cells (dry run: nothing was run)"


def test_seed_ranges_and_lists() -> None:
    assert parser.seeds("0..3") == [0, 1, 2, 3]
    assert parser.seeds("5, 1,2..3") == [5, 1, 2, 3]
    assert parser.seeds("7") == [7]


def test_cells_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = Store(tmp_path / "st")
    run = store.begin_run("exp", "cmd", {})
    for cid, status in (("c1", "ok"), ("c2", "failed")):
        store.record(
            {
                "cell_id": cid,
                "run_id": run,
                "experiment": "e",
                "tf_version": "2.16.2",
                "python_version": "3.11.7",
                "seed": 0,
                "knobs": {},
                "env_vars": [],
                "env_name": "env",
                "status": status,
                "fingerprint": {},
            },
            [0.5, float("nan")],
        )
    store.close()
    assert cli.main(["cells", "--store", "st", "--json"]) == 0
    cells = json.loads(capsys.readouterr().out)
    assert [(c["id"], c["status"], c["loss"]) for c in cells] == [
        ("c1", "ok", [0.5, None]),
        ("c2", "failed", [0.5, None]),
    ]
    assert cli.main(["cells", "--store", "st"]) == 0  # the table renders
    assert "Traceback" not in capsys.readouterr().err


def test_envs_list_and_prune_on_an_empty_cache(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["envs", "list", "--cache", "c", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert cli.main(["envs", "prune", "--all", "--cache", "c"]) == 0
    assert "0 removed" in capsys.readouterr().out


def test_envs_prune_keeps_what_a_stored_bisection_used(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Old nightlies leave the index: the environments a kept bisection ran in stay until
    --include-bisects (the others go)."""
    for name in ("tf2.23.0.dev20261024-py3.11-era-aa", "tf2.21.0-py3.11-era-bb"):
        env = Path("c/envs") / name
        env.mkdir(parents=True)
        (env / "tfrepro-env.json").write_text(
            json.dumps({"versions": {}, "lock": [], "build_seconds": 1, "built_at": "x"})
        )
    with Store(Path("st")) as store:
        store.put_explanation({"kind": "bisect", "a": "bisect 2.21", "b": "nightly", "seed": -1,
                               "good": "2.21.0", "bad": "2.23.0.dev20261024",
                               "envs": ["tf2.23.0.dev20261024-py3.11-era-aa"]})  # fmt: skip
    assert cli.main(["envs", "prune", "--all", "--cache", "c", "--store", "st"]) == 0
    out = capsys.readouterr().out
    assert "removed tf2.21.0-py3.11-era-bb" in out and "1 removed" in out
    assert "kept 1 environment(s)" in out and "bisect --good 2.21.0" in out
    assert (Path("c/envs") / "tf2.23.0.dev20261024-py3.11-era-aa").exists()
    argv = ["envs", "prune", "--all", "--cache", "c", "--store", "st", "--include-bisects"]
    assert cli.main(argv) == 0
    assert not (Path("c/envs") / "tf2.23.0.dev20261024-py3.11-era-aa").exists()


def test_versions_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["versions", "--json"]) == 0
    rows = {r["version"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["2.16.2"]["pythons"] == ["3.9", "3.10", "3.11", "3.12"]
    assert rows["2.16.2"]["package"] == "tensorflow-cpu"


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"tfrepro {__version__}"


@pytest.mark.parametrize("json_out", [False, True])
def test_explain_keeps_its_result_in_the_store(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    json_out: bool,
) -> None:
    from tfrepro.tasks import explain

    from .report_store import HOSTILE, explanation

    def fake(base: object, a: str, b: str, *, seed: int, **kwargs: object) -> explain.ExplainResult:
        return explain.ExplainResult(**explanation(a=a, b=b, seed=seed))

    monkeypatch.setattr(explain, "explain", fake)
    argv = ["explain", "2.9", "tf=2.15,onednn=off", "--seed", "2", "--store", "st"]
    assert cli.main(argv + (["--json"] if json_out else [])) == 0
    out, err = capsys.readouterr()
    note = 'saved in st: `tfrepro report --store st` shows it under "Where and why"'
    assert note in (err if json_out else out) and note not in (out if json_out else err)
    if json_out:
        assert json.loads(out)["b"] == "tf=2.15,onednn=off"  # stdout stays pure JSON
    else:
        assert "First divergence: forward at dense_1" in out
        assert "forward: B vs A per layer" in out  # the per-layer table, with its ULPs
        assert re.search(r"│ dense\s+│ no\s+│\s+6e-08 │\s+1e-07 │\s+2 │", out)
        assert "1. [forward] knob onednn" in out  # the stage tag is text, not markup
        assert f"layer renamed {HOSTILE}" in out
    store = Store(tmp_path / "st")
    (kept,) = store.explanations()
    store.close()
    assert (kept["a"], kept["b"], kept["seed"]) == ("2.9", "tf=2.15,onednn=off", 2)
    assert kept["stages"]["forward"]["max_abs"] == float("inf")


def test_bisect_probes_are_described_in_words() -> None:
    from tfrepro.report.terminal import probe_detail

    metric = {
        "release": "2.11.1",
        "verdict": "bad",
        "compare_verdicts": {"accuracy": "different"},
        "diff": {"accuracy": 0.0159},
        "p_value": {"accuracy": 0.0021},
        "level": 0.0181,
        "look": 2,
        "seeds_needed": None,
        "seeds": 12,
    }
    assert probe_detail(metric) == (
        "accuracy different (b − a +0.0159, p 0.0021 at look 2's level 0.0181); 12 seeds"
    )
    open_probe = {
        **metric,
        "compare_verdicts": {"accuracy": "open"},
        "p_value": {"accuracy": None},
        "seeds_needed": 40,
        "seeds": 20,
    }
    assert probe_detail(open_probe) == (
        "accuracy open (b − a +0.0159, p — at look 2's level 0.0181); about 40 seeds would "
        "settle it; 20 seeds"
    )
    bitwise = {"release": "2.10.0", "verdict": "good", "seeds_identical": 1, "seeds": 1}
    assert probe_detail(bitwise) == "1 of 1 seeds bitwise identical to the good release"
    failed = {"release": "2.10.0", "verdict": "inconclusive", "reason": "no cell finished ok"}
    assert probe_detail(failed) == "reason=no cell finished ok"


def _bisect_text(**over: object) -> str:
    from rich.console import Console

    from tfrepro.report.views import bisect_result
    from tfrepro.tasks.bisect import BisectResult

    fields: dict = {
        "probes": [{"release": "2.10.0", "verdict": "bad", "seeds_identical": 0, "seeds": 1}],
        "status": "found",
        "good": "2.9.3",
        "bad": "2.11.1",
        "first_bad": "2.10.0",
        "last_good": "2.9.3",
        "open_interval": None,
        "criterion": "bitwise",
        "candidates": 4,
        "max_probes": 3,
        "direction": "regression",
        **over,
    }
    result = BisectResult(**fields)
    console = Console(record=True, width=200)
    bisect_result(console, result)
    return console.export_text()


def test_bisect_with_good_newer_than_bad_says_it_searches_for_a_fix() -> None:
    regression = _bisect_text()
    assert "first release that changes: 2.10.0" in regression and "backwards" not in regression
    fix = _bisect_text(good="2.11.1", bad="2.9.3", first_bad="2.10.0", last_good="2.11.0",
                       direction="fix")  # fmt: skip
    assert "--good 2.11.1 is newer than --bad 2.9.3: searching backwards" in fix
    assert "the change came in 2.11.0" in fix and "still behaves like 2.9.3 is 2.10.0" in fix
