"""The self-contained HTML report: one file, figures inline as SVG, CSS inline, no scripts and
nothing fetched from the network. Jinja2 autoescapes every value; only the SVG markup that
matplotlib wrote (which escapes its own text) is passed through as markup.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from tfrepro import __version__
from tfrepro.analysis import breaks
from tfrepro.analysis.ladder import Verdict
from tfrepro.files import write_text
from tfrepro.record import Status
from tfrepro.report import explanations, plots
from tfrepro.report.collect import Group, ReportData
from tfrepro.report.envdiff import env_diff
from tfrepro.report.style import (
    ABBR,
    COLORS,
    fmt_num,
    fmt_p,
    fmt_pct,
    fmt_signed,
    headline,
    sort_rows,
)


def _floats(values: list[Any] | None) -> list[float]:
    return [math.nan if v is None else float(v) for v in values or []]


def _figures(data: ReportData) -> dict[str, Markup | None]:
    labels = [g.label for g in data.groups]
    curves = [
        {
            "label": g.label,
            "mean": _floats(g.summary.get("loss_mean")),
            "std": _floats(g.summary.get("loss_std")),
        }
        for g in data.groups
    ]
    dist: dict[str, list[list[float]]] = {
        m: [
            list((g.summary.get("metrics", {}).get(m) or {}).get("values") or [])
            for g in data.groups
        ]
        for m in data.metrics
    }
    figs = {
        "loss_curves": plots.loss_curves(curves),
        "loss_gaps": plots.loss_gaps(data.reference or "", _gap_series(data)),
        "distributions": plots.metric_distributions(labels, dist),
        "churn": plots.churn_matrix(labels, _churn(data, labels)),
        "per_class": _per_class(data),
    }
    return {k: Markup(v) if v else None for k, v in figs.items()}  # matplotlib's own SVG


def _gap_series(data: ReportData) -> list[dict[str, Any]]:
    """Each group's loss gap to the reference group, from the analysis' trajectory of the pair
    (the same on every metric row of it)."""
    out = []
    for g in data.groups:
        if g.label == data.reference:
            continue
        row = next(
            (
                r
                for r in data.comparisons
                if {r["a"], r["b"]} == {g.label, data.reference} and r.get("trajectory")
            ),
            None,
        )
        if row is not None:
            out.append(
                {
                    "label": g.label,
                    "index": g.index,
                    "curve": row["trajectory"].get("gap_curve") or [],
                }
            )
    return out


def _churn(data: ReportData, labels: list[str]) -> list[list[float | None]]:
    """Churn between groups (off the diagonal) and between seeds inside one (on it), as the
    analysis reported them; a pair it did not compare stays empty."""
    pos = {label: i for i, label in enumerate(labels)}
    m: list[list[float | None]] = [[None] * len(labels) for _ in labels]
    for r in data.comparisons:
        i, j = pos.get(r["a"]), pos.get(r["b"])
        if i is None or j is None:
            continue
        if r.get("churn") is not None:
            m[i][j] = m[j][i] = r["churn"]
        for side, k in (("a", i), ("b", j)):
            if r.get(f"churn_within_{side}") is not None:
                m[k][k] = r[f"churn_within_{side}"]
    return m


def _per_class(data: ReportData) -> str | None:
    rows = [r for r in data.comparisons if r.get("per_class")]
    if not rows:
        return None
    metric = rows[0]["metric"]  # per-class shifts are the same on every metric row of a pair
    rows = [r for r in rows if r["metric"] == metric]
    classes = list(dict.fromkeys(str(p["class"]) for r in rows for p in r["per_class"]))
    shifts = [
        [next((p["shift"] for p in r["per_class"] if str(p["class"]) == c), None) for c in classes]
        for r in rows
    ]
    return plots.per_class_shifts(
        [f"{r['a']} → {r['b']}" for r in rows],
        classes,
        shifts,
        "accuracy" if "acc" in metric else metric,
    )


def _grids(data: ReportData) -> list[dict[str, Any]]:
    """Per metric, a groups-by-groups grid of verdict squares for the header."""
    labels = [g.label for g in data.groups if g.summary.get("n_ok")]
    pos = {label: i for i, label in enumerate(labels)}
    if len(labels) < 2 or len(labels) > 14:
        return []
    out = []
    for metric in data.metrics:
        rows: list[list[dict[str, str] | None]] = [[None] * len(labels) for _ in labels]
        for r in data.comparisons:
            i, j = pos.get(r["a"]), pos.get(r["b"])
            if r["metric"] != metric or i is None or j is None:
                continue
            cell = {
                "verdict": r["verdict"],
                "abbr": ABBR.get(r["verdict"], "·"),
                "title": f"{r['a']} vs {r['b']}: {r['verdict']}",
            }
            rows[i][j] = rows[j][i] = cell
        if any(c for row in rows for c in row):
            out.append({"metric": metric, "labels": labels, "rows": rows})
    return out


def _comparison(r: dict[str, Any], color_of: dict[str, str], hashed: set[str]) -> dict[str, Any]:
    lo, hi = r.get("ci_low"), r.get("ci_high")
    within = r.get("churn_within")
    churn = fmt_pct(r.get("churn"))
    if r.get("churn") is not None and within is not None:
        churn += f" ({fmt_pct(within)})"
    return {
        "a": r["a"],
        "b": r["b"],
        "metric": r["metric"],
        "verdict": r["verdict"],
        "reason": r.get("reason") or "",
        "color_a": color_of.get(r["a"], plots.MUTED),
        "color_b": color_of.get(r["b"], plots.MUTED),
        "diff": fmt_signed(r.get("diff")),
        "ci": f"[{fmt_signed(lo)}, {fmt_signed(hi)}]" if lo is not None and hi is not None else "—",
        "noise_floor": fmt_num(r.get("noise_floor")),
        "effect": fmt_signed(r.get("effect_size"), 2),
        "p_adjusted": fmt_p(r.get("p_adjusted")),
        "tost_p": fmt_p(r.get("tost_p")),
        "churn": churn,
        "seeds_needed": (
            fmt_num(r.get("seeds_needed")) if r["verdict"] == Verdict.INCONCLUSIVE else ""
        ),
        "first_diff": _first_diff(r, hashed),
    }


def _first_diff(r: dict[str, Any], hashed: set[str]) -> tuple[str, str]:
    """The step where matching seeds' losses first differ, and a note when the analysis found
    different initial weights (only said when both groups recorded initial-weight hashes)."""
    traj = r.get("trajectory")
    if not traj:
        return "—", ""
    first = traj.get("first_diff_step")
    if first is None:
        return "never", ""
    init, matched = r.get("identical_init"), r.get("n_matched")
    differs = (
        isinstance(init, int)
        and isinstance(matched, int)
        and init < matched
        and {r["a"], r["b"]} <= hashed
    )
    return f"step {first}", "initial weights differ" if differs else ""


def _group_row(g: Group) -> dict[str, Any]:
    s = g.summary
    metrics = {}
    for name, m in (s.get("metrics") or {}).items():
        mean, std = m.get("mean"), m.get("std")
        metrics[name] = (
            "—"
            if mean is None
            else fmt_num(mean) + (f" ± {fmt_num(std)}" if std is not None else "")
        )
    n_ok = s.get("n_ok", 0)
    return {
        "label": g.label,
        "color": plots.color(g.index),
        "n_ok": n_ok,
        "n_failed": s.get("n_failed", 0),
        "metrics": metrics,
        "hashes": f"{s.get('distinct_final_hashes', 0)} of {n_ok}" if n_ok else "—",
    }


def _margin_note(data: ReportData) -> str:
    given = {
        float(r["margin"])
        for r in data.comparisons
        if r.get("margin") is not None and r.get("margin_source") == "given"
    }
    if given:
        return "equivalence margin ±" + ", ±".join(fmt_num(m) for m in sorted(given))
    if data.comparisons:
        return (
            "equivalence margin: one noise floor per pair (set margin in the spec or pass "
            "--margin to use your own)"
        )
    return ""


def _spec_rows(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """The spec of the newest run as (section, "key = value · …") lines."""
    rows = []
    for section, value in spec.items():
        if isinstance(value, dict):
            text = " · ".join(
                f"{k} = {_plain(v)}" for k, v in value.items() if v not in (None, [], {})
            )
        else:
            text = _plain(value)
        if text:
            rows.append((str(section), text))
    return rows


def _plain(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def context(data: ReportData) -> dict[str, Any]:
    color_of = {g.label: plots.color(g.index) for g in data.groups}
    hashed = {
        g.label
        for g in data.groups  # groups whose ok cells all have an init hash
        if all(c.get("init_weights_sha256") for c in g.cells if c.get("status") == Status.OK)
    }
    failed = []
    for c in data.failed:
        group = data.group_of(c)
        failed.append({**c, "group": group.label if group else "—"})
    groups = [_group_row(g) for g in data.groups]
    for row in groups:
        row["metrics"] = {m: row["metrics"].get(m, "—") for m in data.metrics}
    return {
        "version": __version__,
        "title": data.title,
        "store": data.store,
        "by": data.by,
        "generated": data.generated,
        "metrics": data.metrics,
        "n_cells": len(data.cells),
        "n_ok": len(data.cells) - len(data.failed),
        "n_failed": len(data.failed),
        "headline": headline(data.comparisons),
        "verdict_colors": COLORS,
        "abbr": ABBR,
        "grids": _grids(data),
        "comparisons": [_comparison(r, color_of, hashed) for r in sort_rows(data.comparisons)],
        "margin_note": _margin_note(data),
        "groups": groups,
        "figures": _figures(data),
        "env": env_diff([g.cells for g in data.groups]),
        "failed": failed,
        "breaks": breaks.group_failures(data.failed, by=data.by),
        "runs": data.runs,
        "spec": _spec_rows(data.runs[-1]["spec"]) if data.runs else [],
        "explanations": explanations.explanations(
            [e for e in data.explanations if e.get("kind") not in ("break", "settle", "bisect")]
        ),
        "explained_breaks": [e for e in data.explanations if e.get("kind") == "break"],
        "settles": [e for e in data.explanations if e.get("kind") == "settle"][:1],
    }


def render(data: ReportData) -> str:
    env = Environment(
        loader=PackageLoader("tfrepro.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2").render(context(data))


def write(data: ReportData, path: Path) -> Path:
    return write_text(Path(path), render(data))
