"""Tasks over what the store holds: cells, compare, baseline save, check, report.

Each opens the store once, hands the cells to the analysis and returns its result; the CLI
renders it. Nothing here prints.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tfrepro import __version__
from tfrepro.analysis import baseline, compare, load
from tfrepro.errors import StoreError, UsageError
from tfrepro.record import CellRecord
from tfrepro.report import collect, html, summary
from tfrepro.store import Store


def metric_list(args: list[str] | None) -> list[str] | None:
    """`--metric a,b --metric c` → [a, b, c] (None: every final metric)."""
    names = [m.strip() for arg in args or [] for m in arg.split(",") if m.strip()]
    return names or None


def cells(store_path: Path, *, all_attempts: bool, with_loss: bool) -> list[CellRecord]:
    with Store(store_path, create=False) as store:
        return store.cells(all_attempts=all_attempts, with_loss=with_loss)


@dataclass
class Comparison:
    cells: list[CellRecord]
    rows: list[dict[str, Any]]


def compare_store(
    store_path: Path,
    *,
    by: str,
    metrics: list[str] | None,
    margin: float | None,
    baseline: str | None,
    alpha: float,
) -> Comparison:
    with Store(store_path, create=False) as store:
        found = load.cells(store, by)
        if not found:  # as report says it
            raise UsageError(
                f"the store at '{store.root}' has no cells yet: run `tfrepro run` first"
            )
        if margin is None:
            margin = load.spec_margin(store, found)
    rows = compare.compare_cells(
        found,
        by=by,
        metrics=metrics,
        margin=margin,
        baseline=baseline,
        alpha=alpha,
        predictions=load.predictions(found),
        labels=load.labels(found),
    )
    return Comparison(list(found), rows)


def save_baseline(store_path: Path, path: Path, *, by: str) -> dict[str, Any]:
    with Store(store_path, create=False) as store:
        found = store.cells(with_loss=False)
        margin = load.spec_margin(store, found)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    data = baseline.make(found, by=by, margin=margin, created=created, version=__version__)
    load.write_baseline(path, data)
    return data


def check(
    baseline_path: Path,
    store_path: Path,
    *,
    margin: float | None,
    group: str | None,
    alpha: float,
) -> baseline.CheckResult:
    data = baseline.validate(load.read_baseline(baseline_path), str(baseline_path))
    try:  # exit 1 means "different" here, so a missing store is a usage error (2)
        store = Store(store_path, create=False)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    with store:
        found = store.cells(with_loss=False)
    return baseline.check(data, found, margin=margin, group=group, alpha=alpha)


@dataclass
class Report:
    data: collect.ReportData
    html: Path
    markdown: Path | None


def report(
    store_path: Path,
    *,
    out: Path,
    markdown: Path | None,
    by: str,
    baseline: str | None,
    margin: float | None,
    metrics: list[str] | None,
    alpha: float,
) -> Report:
    with Store(store_path, create=False) as store:
        data = collect.collect(
            store, by=by, baseline=baseline, margin=margin, metrics=metrics, alpha=alpha
        )
    path = html.write(data, out)
    md = summary.write_markdown(data, markdown, html_name=path.name) if markdown else None
    return Report(data, path, md)


def keep_explanation(store_path: Path, result: dict[str, Any]) -> None:
    with Store(store_path) as store:
        store.put_explanation(result)
