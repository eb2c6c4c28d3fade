"""Tasks over what the store holds: cells, compare, baseline save, check, report.

Each opens the store once, hands the cells to the analysis and returns its result; the CLI
renders it. Nothing here prints.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfrepro import __version__
from tfrepro.analysis import baseline, breaks, compare, groups, load
from tfrepro.errors import StoreError, UsageError
from tfrepro.record import CellRecord, Status
from tfrepro.report import collect, html, summary
from tfrepro.store import Store

if TYPE_CHECKING:  # explain's module loads numpy and the executor: only its result's type here
    from tfrepro.tasks.bisect import BisectResult
    from tfrepro.tasks.breakage import BreakResult
    from tfrepro.tasks.explain import ExplainResult
    from tfrepro.tasks.settle import SettleResult


def metric_list(args: list[str] | None) -> list[str] | None:
    """`--metric a,b --metric c` → [a, b, c] (None: every final metric)."""
    names = [m.strip() for arg in args or [] for m in arg.split(",") if m.strip()]
    return names or None


def cells(store_path: Path, *, all_attempts: bool, with_loss: bool) -> list[CellRecord]:
    with Store(store_path, create=False) as store:
        return store.cells(all_attempts=all_attempts, with_loss=with_loss)


def _cells(store: Store, by: str) -> list[CellRecord]:
    """The cells to group `by` an axis: the latest attempt of each cell; for `attempt`, every
    attempt of the cells recorded more than once (comparing a cell with its own reruns)."""
    if by != "attempt":
        return store.cells()
    return load.reruns(store.cells(all_attempts=True))


@dataclass
class Comparison:
    cells: list[CellRecord]
    rows: list[dict[str, Any]]
    failures: list[breaks.Failure]  # the failed cells grouped by signature
    ok_groups: int = 0  # groups with at least one ok cell


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
        found = _cells(store, by)
        if not found:  # as report says it
            raise UsageError(
                f"the store at '{store.root}' has no cells yet: run `tfrepro run` first"
            )
        if margin is None:
            margin = load.spec_margin(store.runs(), found)
        kept = store.explanations()
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
    from tfrepro.tasks.settle import sequential_of

    settled = sequential_of(kept, by)
    for r in rows:
        if (r["a"], r["b"], r["metric"]) in settled:
            r["sequential"] = settled[(r["a"], r["b"], r["metric"])]
    ok = groups.group_cells((c for c in found if c["status"] == Status.OK), by)
    return Comparison(list(found), rows, breaks.group_failures(found, by=by), len(ok))


def save_baseline(store_path: Path, path: Path, *, by: str) -> dict[str, Any]:
    with Store(store_path, create=False) as store:
        found = store.cells(with_loss=False)
        margin = load.spec_margin(store.runs(), found)
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
        found = _cells(store, by)  # for `attempt`: every attempt of the rerun cells
        explanations = store.explanations()
        if not found:
            kept = len(explanations)
            also = f" (only {kept} explanation(s), shown next to the cells)" if kept else ""
            raise UsageError(
                f"the store at '{store.root}' has no cells yet{also}: run `tfrepro run` first"
            )
        runs, root = store.runs(), str(store.root)
    data = _report_data(
        found,
        runs,
        explanations,
        store=root,
        by=by,
        baseline=baseline,
        margin=margin,
        metrics=metrics,
        alpha=alpha,
    )
    path = html.write(data, out)
    md = summary.write_markdown(data, markdown, html_name=path.name) if markdown else None
    return Report(data, path, md)


def _report_data(
    cells: list[CellRecord],
    runs: list[dict[str, Any]],
    explanations: list[dict[str, Any]],
    *,
    store: str,
    by: str,
    baseline: str | None,
    margin: float | None,
    metrics: list[str] | None,
    alpha: float,
) -> collect.ReportData:
    """The cells grouped along `by`, with the analysis' summaries and verdicts (margin:
    --margin, else the spec's, else the analysis' default)."""
    groups.check_axis(cells, by)
    members = groups.group_cells(cells, by)
    summaries = {s["label"]: s for s in groups.group_summary(cells, by)}
    grouped = [
        collect.Group(label, i, members[label], summaries[label]) for i, label in enumerate(members)
    ]
    ok_labels = [g.label for g in grouped if g.summary["n_ok"]]
    if baseline is not None:
        baseline = compare.resolve_group(ok_labels, baseline, "--baseline")
    rows: list[dict[str, Any]] = []
    if len(ok_labels) >= 2:
        rows = compare.compare_cells(
            cells,
            by=by,
            metrics=metrics,
            baseline=baseline,
            alpha=alpha,
            margin=margin if margin is not None else load.spec_margin(runs, cells),
            predictions=load.predictions(cells),
            labels=load.labels(cells),
        )
    names = list(metrics or groups.metric_names(c for c in cells if c.get("status") == Status.OK))
    used = {c.get("run_id") for c in cells}
    runs = [r for r in runs if r["id"] in used]
    return collect.ReportData(
        title=collect.title(runs),
        store=store,
        by=by,
        runs=runs,
        explanations=explanations,
        generated=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        cells=cells,
        groups=grouped,
        comparisons=rows,
        metrics=names,
        reference=baseline or (ok_labels[0] if ok_labels else None),
    )


def keep_explanation(store_path: Path, result: ExplainResult | BreakResult | SettleResult) -> None:
    """Keep an explanation (an explained break, an until-settled run) for the report."""
    with Store(store_path) as store:
        store.put_explanation(result.as_dict())


def keep_bisect(store_path: Path, result: BisectResult) -> None:
    """Keep a bisection: what it found, and the environments `envs prune` then keeps."""
    with Store(store_path) as store:
        store.put_explanation(result.kept())


def bisect_envs(store_path: Path) -> dict[str, str]:
    """Environment name -> the stored bisection that used it (none without a store)."""
    try:
        store = Store(store_path, create=False)
    except StoreError:
        return {}
    with store:
        kept = store.explanations()
    return {
        env: f"bisect --good {e['good']} --bad {e['bad']}"
        for e in reversed(kept)
        if e.get("kind") == "bisect"
        for env in e.get("envs") or []
    }
