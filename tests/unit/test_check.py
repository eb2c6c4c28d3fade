"""`tfrepro compare`, `baseline save` and `check` through tfrepro.cli.main, on stores built with
Store.record: every exit code of check (0 same, 1 different, 2 usage, 3 inconclusive)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from tfrepro import __version__, cli
from tfrepro.store import Store

from .synthetic import record

BASE = [0.900, 0.912, 0.895, 0.905, 0.890, 0.908, 0.899, 0.903]


def make_store(
    root: Path,
    tf: str,
    values: Sequence[float],
    *,
    same_weights_as: str | None = None,
    statuses: Sequence[str] = (),
    margin: float | None = None,
) -> Path:
    store = Store(root)
    for seed, v in enumerate(values):
        status = statuses[seed] if seed < len(statuses) else "ok"
        weights = f"{same_weights_as}-{seed}" if same_weights_as else None
        record(store, tf, seed, v, weights=weights, status=status, margin=margin)
    store.close()
    return root


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    store = make_store(tmp_path / "base", "2.15.1", BASE, same_weights_as="w")
    path = tmp_path / "ci" / "baseline.json"
    code, out, _ = run(capsys, "baseline", "save", str(path), "--store", str(store))
    assert code == 0 and "8 ok cell(s) in 1 group(s)" in out
    return path


def test_baseline_file_contents(baseline: Path) -> None:
    data = json.loads(baseline.read_text())
    assert data["format"] == "tfrepro-baseline" and data["format_version"] == 1
    assert data["tfrepro_version"] == __version__ and data["by"] == "tf_version"
    assert data["created"].endswith("Z")
    (group,) = data["groups"]
    assert group["label"] == "2.15.1" and group["n_ok"] == 8 and group["n_failed"] == 0
    assert group["metrics"]["accuracy"]["values"] == BASE
    assert group["final_hashes"]["3"] == "w-3"
    assert group["fingerprints"]["tensorflow"] == ["2.15.1"]
    assert len(baseline.read_bytes()) < 20_000  # small enough to commit


def test_check_same_cells_is_bitwise_identical(
    baseline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "check", "--baseline", str(baseline), "--store", str(tmp_path / "base")
    )
    assert (code, err) == (0, "")
    assert "bitwise-identical" in out and "check: pass" in out


def test_check_upgrade_within_margin_passes(
    baseline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = make_store(tmp_path / "new", "2.16.2", [v + 0.001 for v in reversed(BASE)])
    code, out, _ = run(
        capsys,
        "check",
        "--baseline",
        str(baseline),
        "--store",
        str(store),
        "--margin",
        "0.02",
        "--json",
    )
    assert code == 0
    result = json.loads(out)
    assert result["outcome"] == "pass"
    assert {r["verdict"] for r in result["rows"]} == {"equivalent"}
    assert {(r["a"], r["b"]) for r in result["rows"]} == {("baseline 2.15.1", "2.16.2")}


def test_check_upgrade_that_changes_accuracy_fails(
    baseline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = make_store(tmp_path / "new", "2.16.2", [v + 0.05 for v in BASE])
    code, out, _ = run(capsys, "check", "--baseline", str(baseline), "--store", str(store))
    assert code == 1
    assert "different" in out and "check: different" in out


def test_check_with_too_few_seeds_is_inconclusive(
    baseline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = make_store(tmp_path / "new", "2.16.2", [0.89, 0.93])
    code, out, _ = run(capsys, "check", "--baseline", str(baseline), "--store", str(store))
    assert code == 3
    assert "inconclusive" in out and "seeds per group would settle it" in out


def test_check_fails_when_a_cell_that_was_ok_now_fails(
    baseline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = make_store(
        tmp_path / "new", "2.16.2", BASE, same_weights_as="w", statuses=["ok", "timeout"]
    )
    code, out, _ = run(capsys, "check", "--baseline", str(baseline), "--store", str(store))
    assert code == 1
    assert "2.16.2 seed 1: timeout" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "--baseline: no file"),
        ("{not json", "is not valid JSON"),
        ('["a list"]', "not a JSON object"),
        ('{"format": "other"}', "is not a usable tfrepro baseline ('format' is 'other'"),
        (
            '{"format": "tfrepro-baseline", "format_version": 1, "by": "tf_version", "groups": []}',
            "(no groups)",
        ),
    ],
)
def test_check_usage_errors_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "baseline.json"
    if content is not None:
        path.write_text(content)
    store = make_store(tmp_path / "s", "2.16.2", BASE)
    code, out, err = run(capsys, "check", "--baseline", str(path), "--store", str(store))
    assert code == 2 and out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_check_without_a_store_is_a_usage_error(
    baseline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        capsys, "check", "--baseline", str(baseline), "--store", str(tmp_path / "nowhere")
    )
    assert code == 2 and "no tfrepro store" in err


def test_check_needs_a_counterpart_group(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "two"
    make_store(root, "2.14.1", BASE)
    make_store(root, "2.15.1", BASE)
    path = tmp_path / "b.json"
    assert run(capsys, "baseline", "save", str(path), "--store", str(root))[0] == 0
    new = make_store(tmp_path / "new", "2.16.2", BASE)
    code, _, err = run(capsys, "check", "--baseline", str(path), "--store", str(new))
    assert code == 2 and "name one with --group" in err
    code, out, _ = run(
        capsys, "check", "--baseline", str(path), "--store", str(new), "--group", "2.15", "--json"
    )
    assert code in (0, 1, 3)
    assert {r["a"] for r in json.loads(out)["rows"]} == {"baseline 2.15.1"}


def test_compare_table_json_and_spec_margin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "s"
    make_store(root, "2.15.1", BASE, same_weights_as="w", margin=0.02)
    make_store(root, "2.21.0", BASE, same_weights_as="w", margin=0.02)
    make_store(root, "2.16.2", [v + 0.05 for v in BASE], margin=0.02)
    code, out, err = run(capsys, "compare", "--store", str(root))
    assert (code, err) == (0, "")
    assert "bitwise-identical" in out and "different" in out
    code, out, _ = run(capsys, "compare", "--store", str(root), "--json", "--metric", "accuracy")
    rows = json.loads(out)
    assert [(r["a"], r["b"], r["verdict"]) for r in rows] == [
        ("2.15.1", "2.16.2", "different"),
        ("2.15.1", "2.21.0", "bitwise-identical"),
        ("2.16.2", "2.21.0", "different"),
    ]
    assert {r["margin"] for r in rows} == {0.02}  # from the stored spec
    rows = json.loads(
        run(
            capsys,
            "compare",
            "--store",
            str(root),
            "--json",
            "--margin",
            "0.1",
            "--baseline",
            "2.21",
        )[1]
    )
    assert {(r["a"], r["margin"]) for r in rows} == {("2.21.0", 0.1)}


def test_compare_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_store(tmp_path / "s", "2.15.1", BASE)
    code, out, _ = run(capsys, "compare", "--store", str(root))
    assert code == 0 and "nothing to compare" in out
    for argv, message in (
        (["--by", "colour"], "--by: 'colour' is not an axis"),
        (["--metric", "f1"], "--metric: no ok cell recorded f1"),
        (["--alpha", "2"], "must be between 0 and 1"),
        (["--margin", "-1"], "must be positive"),
    ):
        code, _, err = run(capsys, "compare", "--store", str(root), *argv)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_check_of_a_script_that_trains_two_models_sees_the_second_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def models(gan: str) -> dict:
        return {
            "models": [
                {"name": "warmup", "class": "Sequential", "init_sha256": "i", "final_sha256": "w"},
                {"name": "gan", "class": "GAN", "init_sha256": "j", "final_sha256": gan},
            ]
        }

    base, now = Store(tmp_path / "base"), Store(tmp_path / "now")
    for seed, v in enumerate(BASE):
        record(base, "2.16.2", seed, v, weights="w", script=models(f"gan-{seed}"))
        record(now, "2.16.2", seed, v, weights="w", script=models(f"other-{seed}"))
    base.close()
    now.close()
    path = tmp_path / "baseline.json"
    assert run(capsys, "baseline", "save", str(path), "--store", str(tmp_path / "base"))[0] == 0
    kept = json.loads(path.read_text())["groups"][0]["cells"][0]
    assert [m["name"] for m in kept["script"]["models"]] == ["warmup", "gan"]
    code, out, _ = run(capsys, "check", "--baseline", str(path), "--store", str(tmp_path / "base"))
    assert code == 0 and "bitwise-identical" in out
    code, out, _ = run(capsys, "check", "--baseline", str(path), "--store", str(tmp_path / "now"))
    assert "bitwise-identical" not in out  # the first model alone is identical: not enough
