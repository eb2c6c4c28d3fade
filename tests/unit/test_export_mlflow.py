"""`tfrepro export mlflow` into a real MLflow tracking store (SQLite), read back with
MlflowClient: one run per cell attempt under a parent run with compare's verdicts and the
report, and a second export that adds nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tfrepro import cli
from tfrepro.store import Store
from tfrepro.tasks import export

sys.path.insert(0, str(Path(__file__).parent))
import report_store

mlflow = pytest.importorskip("mlflow")
# MLflow's own dependencies (SQLAlchemy) warn about their APIs; not tfrepro's to fix
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")
from mlflow.tracking import MlflowClient  # noqa: E402


def test_export_writes_one_run_per_cell_and_a_second_export_adds_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # MLflow puts a SQLite store's artifacts under ./mlruns
    store = report_store.build(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    argv = ["export", "mlflow", "--store", str(store), "--tracking-uri", uri, "--experiment", "e"]
    assert cli.main(argv) == 0
    with Store(store, create=False) as s:
        cells = s.cells(all_attempts=True, with_loss=True)
        specs = {r["id"]: r["spec"] for r in s.runs()}
    assert f"{len(cells)} runs added, 0 already there" in capsys.readouterr().out

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("e")
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    parent = [r for r in runs if "tfrepro.result" not in r.data.tags]
    children = [r for r in runs if "tfrepro.result" in r.data.tags]
    assert len(parent) == 1 and len(children) == len(cells)
    by_key = {r.data.tags["tfrepro.result"]: r for r in children}
    for cell in cells:
        run = by_key[f"{cell['id']}:{cell['attempt']}"]
        tags = run.data.tags
        assert tags["mlflow.parentRunId"] == parent[0].info.run_id
        assert (tags["release"], tags["seed"]) == (cell["tf_version"], str(cell["seed"]))
        assert tags["final_weights_sha256"] == str(cell["final_weights_sha256"])
        assert run.data.params == export._params(specs[cell["run_id"]])  # the spec, flattened
        assert run.data.params
        expected_status = "FINISHED" if cell["status"] == "ok" else "FAILED"
        assert run.info.status == expected_status
        history = client.get_metric_history(run.info.run_id, "loss")
        assert [m.step for m in history] == list(range(len(cell["loss"])))
        finite = [v for v in cell["loss"] if v is not None]
        assert sorted(m.value for m in history if m.value == m.value) == sorted(finite)
        for name, value in (cell["metrics"] or {}).items():
            assert run.data.metrics[f"final_{name}"] == pytest.approx(value)
    verdicts = {k: v for k, v in parent[0].data.tags.items() if k.startswith("verdict ")}
    assert "verdict 2.15.1 vs 2.16.2 accuracy" in verdicts
    assert verdicts["verdict 2.15.1 vs 2.16.2 accuracy"] == "bitwise-identical"
    artifacts = {a.path for a in client.list_artifacts(parent[0].info.run_id)}
    assert {"compare.json", "report.html"} <= artifacts

    assert cli.main(argv) == 0
    assert f"0 runs added, {len(cells)} already there" in capsys.readouterr().out
    assert len(client.search_runs([exp.experiment_id], max_results=1000)) == len(runs)


def test_export_of_an_empty_store_says_to_run_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Store(tmp_path / "st").close()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert (
        cli.main(["export", "mlflow", "--store", str(tmp_path / "st"), "--tracking-uri", uri]) == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tfrepro run" in err


def test_batches_stay_within_mlflow_limits() -> None:
    calls: list[tuple[int, int, int]] = []

    class Client:
        def log_batch(self, rid: str, metrics: list, params: list, tags: list) -> None:
            calls.append((len(metrics), len(params), len(tags)))

    export._batches(Client(), "r", list(range(2500)), list(range(150)), list(range(120)))
    assert all(m + p + t <= 1000 and p <= 100 and t <= 100 for m, p, t in calls)
    assert [sum(c[i] for c in calls) for i in range(3)] == [2500, 150, 120]
