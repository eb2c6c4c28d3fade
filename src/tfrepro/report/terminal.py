"""Terminal tables: the per-release run summary, the cell list, the release list.

Table cells given as strings are read as rich markup: user strings (knob and environment
values, failure reasons, metric names) go in through `markup_safe`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from tfrepro.envs.catalogue import version_key
from tfrepro.record import Status, final_weights_id
from tfrepro.report.style import fmt_fixed_signed, fmt_mean_std, fmt_sig, markup_safe, visible


def _varying(cells: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[str]]:
    """Knob and environment-variable names whose values differ between the cells."""
    knobs = sorted(
        {
            k
            for c in cells
            for k in c["knobs"]
            if len({json.dumps(x["knobs"].get(k)) for x in cells}) > 1
        }
    )
    env = sorted(
        {
            k
            for c in cells
            for k in c.get("env_vars", {})
            if len({x.get("env_vars", {}).get(k) for x in cells}) > 1
        }
    )
    return knobs, env


def _group_key(cell: Mapping[str, Any], knobs: list[str], env: list[str]) -> str:
    parts = [str(cell["tf_version"])]
    if cell.get("keras_pin"):
        parts.append(f"keras={cell['keras_pin']}")
    parts += [f"{k}={cell['knobs'].get(k)}" for k in knobs]
    parts += [f"{k}={cell.get('env_vars', {}).get(k)}" for k in env]
    return " ".join(parts)


def run_summary(console: Console, cells: Sequence[Mapping[str, Any]]) -> None:
    """Per release: cells ok / failed, mean ± std of each final metric, distinct final hashes."""
    if not cells:
        console.print("no cells recorded")
        return
    knobs, env = _varying(cells)
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for cell in cells:
        groups[_group_key(cell, knobs, env)].append(cell)
    metric_names = sorted({m for c in cells for m in (c.get("metrics") or {})})
    table = Table(title="Summary per TensorFlow release", title_justify="left")
    for col in ("group", "Keras", "Python", "ok", "failed"):
        table.add_column(col, justify="right" if col in ("ok", "failed") else "left")
    for m in metric_names:
        table.add_column(f"{markup_safe(m)} (mean ± std)", justify="right")
    table.add_column("distinct final weights", justify="right")
    for key in sorted(groups, key=lambda k: (version_key(k), k)):
        rows = groups[key]
        ok = [c for c in rows if c["status"] == Status.OK]
        keras = ", ".join(sorted({str(c["keras_version"]) for c in rows if c.get("keras_version")}))
        pys = ", ".join(sorted({c["python_version"] for c in rows}))
        hashes = {final_weights_id(c) for c in ok} - {None}
        table.add_row(
            markup_safe(key),
            markup_safe(keras or "—"),
            markup_safe(pys),
            str(len(ok)),
            str(len(rows) - len(ok)),
            *(
                fmt_mean_std([c["metrics"][m] for c in ok if m in c["metrics"]])
                for m in metric_names
            ),
            f"{len(hashes)} of {len(ok)}",
        )
    console.print(table)
    failures = [c for c in cells if c["status"] != Status.OK]
    for c in failures[:20]:
        line = Text(str(c["status"]), style="red")
        line.append(visible(f" tf {c['tf_version']} seed {c['seed']}: {c.get('reason') or ''}"))
        console.print(line, highlight=False)
    if len(failures) > 20:
        console.print(f"… and {len(failures) - 20} more (see `tfrepro cells`)")


def cell_table(console: Console, cells: Sequence[Mapping[str, Any]]) -> None:
    table = Table(title=f"{len(cells)} recorded cell(s)", title_justify="left")
    for col in (
        "id",
        "TF",
        "Keras",
        "Python",
        "seed",
        "knobs",
        "status",
        "metrics",
        "final sha256",
    ):
        table.add_column(col)
    for c in cells:
        knobs = ", ".join(f"{k}={v}" for k, v in c["knobs"].items())
        metrics = ", ".join(f"{k}={v:.4f}" for k, v in sorted((c.get("metrics") or {}).items()))
        table.add_row(
            *(
                markup_safe(v)
                for v in (
                    c["id"],
                    c["tf_version"],
                    c.get("keras_version") or "—",
                    c["python_version"],
                    c["seed"],
                    knobs,
                    c["status"],
                    metrics or (c.get("reason") or "")[:60],
                    (c.get("final_weights_sha256") or "—")[:12],
                )
            )
        )
    console.print(table)


def versions_table(console: Console, rows: Sequence[Mapping[str, Any]], source: str) -> None:
    table = Table(title=f"TensorFlow releases (catalogue: {source})", title_justify="left")
    for col in ("release", "package", "released", "Python wheels", "interpreter here"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["version"],
            r["package"],
            r["uploaded"][:10],
            ", ".join(r["pythons"]),
            r["interpreter"] or "[red]none[/] — install Python " + r["pythons"][-1],
        )
    console.print(table)


def probe_detail(p: dict[str, Any]) -> str:
    """One bisect probe's evidence in words."""
    if "compare_verdicts" in p:
        parts = [
            f"{m} {v} (b − a {fmt_fixed_signed(p['diff'].get(m))}, p "
            f"{fmt_sig(p['p_value'].get(m))} at look {p['look']}'s level {fmt_sig(p['level'])})"
            for m, v in p["compare_verdicts"].items()
        ]
        if p.get("seeds_needed"):
            parts.append(f"about {p['seeds_needed']} seeds would settle it")
        return "; ".join(parts) + f"; {p['seeds']} seeds"
    if "failure" in p:
        return f"fails: {p['failure']['describe']}"
    if "runs" in p:
        return f"runs ({p['runs']} of {p['cells']} cells ok)"
    if "seeds_identical" in p:
        return f"{p['seeds_identical']} of {p['seeds']} seeds bitwise identical to the good release"
    return ", ".join(f"{k}={v}" for k, v in p.items() if k not in ("release", "verdict"))
