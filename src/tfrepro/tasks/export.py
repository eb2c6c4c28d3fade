"""`tfrepro export mlflow`: the store's cells as MLflow runs (optional extra `tfrepro[mlflow]`).

One parent run per store (tag `tfrepro.store`) holds `compare`'s verdicts (as tags and a JSON
artifact) and the HTML report; under it, one run per recorded cell attempt (tag
`tfrepro.result` = `<cell id>:<attempt>`) with the spec as params, release, seed, knobs and
fingerprint as tags, the loss at every step, the metrics of every epoch and the final metrics.
Exporting again adds only the attempts MLflow does not have yet, and refreshes the parent.
Metrics, params and tags are sent in batches within MLflow's limits per request.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tfrepro.errors import UsageError
from tfrepro.record import CellRecord, Status
from tfrepro.store import Store
from tfrepro.tasks import results

# MLflow's limits for one log_batch request, and for one param value
_MAX_METRICS, _MAX_PARAMS, _MAX_TAGS, _MAX_VALUE = 1000, 100, 100, 500


@dataclass
class Exported:
    experiment: str
    tracking_uri: str
    parent_run_id: str
    created: int
    skipped: int  # attempts MLflow already had


def _mlflow() -> Any:
    for name in ("mlflow", "alembic"):  # their INFO lines (creating tables …) are not ours
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        import mlflow
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise UsageError(
            "export mlflow needs MLflow: install it with `pip install 'tfrepro[mlflow]'`"
        ) from None
    return mlflow, MlflowClient


def export_mlflow(store_path: Path, *, tracking_uri: str | None, experiment: str) -> Exported:
    mlflow, client_cls = _mlflow()
    from mlflow.entities import Metric, Param, RunTag

    with Store(store_path, create=False) as store:
        cells = store.cells(all_attempts=True, with_loss=True)
        specs = {r["id"]: r["spec"] for r in store.runs()}
        root = str(store.root)
    if not cells:
        raise UsageError(f"the store at '{root}' has no cells yet: run `tfrepro run` first")
    uri = tracking_uri or mlflow.get_tracking_uri()
    client = client_cls(tracking_uri=uri)
    try:
        found = client.get_experiment_by_name(experiment)
        exp_id = found.experiment_id if found else client.create_experiment(experiment)
    except Exception as exc:
        raise UsageError(f"--tracking-uri {uri}: MLflow refused it: {str(exc)[:200]}") from None
    have = _existing(client, exp_id, root)
    parent = (
        have.pop("parent", None)
        or client.create_run(
            exp_id, run_name=f"tfrepro: {Path(root).name}", tags={"tfrepro.store": root}
        ).info.run_id
    )
    created = skipped = 0
    for cell in cells:
        key = f"{cell['id']}:{cell['attempt']}"
        if key in have:
            skipped += 1
            continue
        run = client.create_run(
            exp_id,
            run_name=f"tf {cell['tf_version']} seed {cell['seed']}",
            tags={"tfrepro.store": root, "tfrepro.result": key, "mlflow.parentRunId": parent},
        )
        rid = run.info.run_id
        params = [Param(k, v) for k, v in _params(specs.get(cell["run_id"], {})).items()]
        tags = [RunTag(k, v) for k, v in _tags(cell).items()]
        metrics = [Metric(k, v, ts, step) for k, v, ts, step in _metrics(cell)]
        _batches(client, rid, metrics, params, tags)
        ok = cell["status"] == Status.OK
        client.set_terminated(rid, "FINISHED" if ok else "FAILED")
        created += 1
    _parent(client, parent, store_path)
    return Exported(experiment, uri, parent, created, skipped)


def _existing(client: Any, exp_id: str, root: str) -> dict[str, str]:
    """result key -> run id of the runs already exported from this store ("parent" too)."""
    out: dict[str, str] = {}
    token = None
    while True:
        page = client.search_runs(
            [exp_id], f"tags.`tfrepro.store` = '{root}'", max_results=1000, page_token=token
        )
        for run in page:
            key = run.data.tags.get("tfrepro.result")
            out[key or "parent"] = run.info.run_id
        token = page.token
        if not token:
            return out


def _params(spec: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in spec.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_params(v, name + "."))
        else:
            out[name] = json.dumps(v, default=str)[:_MAX_VALUE]
    return out


def _tags(cell: CellRecord) -> dict[str, str]:
    fp = cell["fingerprint"] or {}
    tags = {
        "tfrepro.cell_id": cell["id"],
        "tfrepro.attempt": str(cell["attempt"]),
        "tfrepro.status": cell["status"],
        "release": cell["tf_version"],
        "keras": str(cell["keras_version"]),
        "python": cell["python_version"],
        "seed": str(cell["seed"]),
        "knobs": json.dumps(cell["knobs"], sort_keys=True),
        "env_vars": json.dumps(cell["env_vars"], sort_keys=True),
        "final_weights_sha256": str(cell["final_weights_sha256"]),
        "worker": json.dumps(cell.get("worker")),
    }
    if cell["reason"]:
        tags["reason"] = cell["reason"][:5000]
    for k, v in fp.items():
        if k != "packages":  # the lock: long; it is in the store and the report
            tags[f"fingerprint.{k}"] = json.dumps(v, default=str)[:5000]
    return tags


def _metrics(cell: CellRecord) -> list[tuple[str, float, int, int]]:
    now = int(time.time() * 1000)
    out = [
        ("loss", float("nan") if v is None else float(v), now, i)
        for i, v in enumerate(cell.get("loss") or [])
    ]
    for epoch, metrics in enumerate(cell["epoch_metrics"] or []):
        for name, value in metrics.items():
            if isinstance(value, int | float):
                out.append((f"epoch_{name}", float(value), now, epoch))
    for name, value in (cell["metrics"] or {}).items():
        if isinstance(value, int | float) and math.isfinite(value):
            out.append((f"final_{name}", float(value), now, 0))
    return out


def _batches(client: Any, rid: str, metrics: list[Any], params: list[Any], tags: list[Any]) -> None:
    """log_batch within its limits: 1000 entities, of which at most 100 params and 100 tags."""
    while metrics or params or tags:
        p, params = params[:_MAX_PARAMS], params[_MAX_PARAMS:]
        t, tags = tags[:_MAX_TAGS], tags[_MAX_TAGS:]
        room = _MAX_METRICS - len(p) - len(t)
        m, metrics = metrics[:room], metrics[room:]
        client.log_batch(rid, metrics=m, params=p, tags=t)


def _parent(client: Any, parent: str, store_path: Path) -> None:
    """compare's verdicts (tags, and the full rows as JSON) and the HTML report."""
    rows = results.compare_store(
        store_path, by="tf_version", metrics=None, margin=None, baseline=None, alpha=0.05
    ).rows
    for row in rows[:_MAX_TAGS]:
        name = f"verdict {row['a']} vs {row['b']} {row['metric']}"
        client.set_tag(parent, name[:250], str(row["verdict"]))
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "compare.json").write_text(json.dumps(rows, indent=1, default=str))
        client.log_artifact(parent, str(Path(tmp) / "compare.json"))
        done = results.report(
            store_path,
            out=Path(tmp) / "report.html",
            markdown=None,
            by="tf_version",
            baseline=None,
            margin=None,
            metrics=None,
            alpha=0.05,
        )
        client.log_artifact(parent, str(done.html))
    client.set_terminated(parent, "FINISHED")
