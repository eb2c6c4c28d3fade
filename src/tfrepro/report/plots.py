"""The report's figures, drawn with matplotlib and returned as inline SVG markup.

Plots draw numbers they are given (group means and spreads from the analysis, raw losses and
metrics from cells); they compute no statistics. Figures are built with `Figure` directly, so no
pyplot state or GUI backend is involved. Text stays text in the SVG (searchable, small), is
escaped by matplotlib's SVG writer, and math parsing is off so a `$` in a user's label is shown
as typed. The output is deterministic: no date in the metadata, a fixed per-figure id salt.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, cast

import matplotlib as mpl
import numpy as np
from matplotlib.colors import LinearSegmentedColormap, TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

# Colour-blind-friendly (Okabe-Ito, then Tableau) so groups read the same in every figure.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
    "#8c564b",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
INK, MUTED, GRID = "#1f2933", "#616e7c", "#e4e7eb"
# Line styles cycle too, so that groups with identical curves stay visible on top of each other.
DASHES: tuple[Any, ...] = ("-", (0, (5, 2)), (0, (2, 1.5)), (0, (6, 2, 1, 2)))
MAX_POINTS = 1500  # per line: a 10,000-step curve is drawn from every k-th step
HALF = 5.8  # inches: figures are shown at their natural size, two side by side on a laptop
FULL = 11.5

_RC: dict[str, Any] = {
    "svg.fonttype": "none",
    "text.parse_math": False,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 9.5,
    "axes.edgecolor": "#9aa5b1",
    "axes.labelcolor": INK,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": GRID,
    "grid.linewidth": 0.8,
    "xtick.color": MUTED,
    "ytick.color": MUTED,
    "legend.frameon": False,
    "legend.fontsize": 8.5,
}


# No date (reproducible output) and no RDF block (it names external vocabularies by URL).
_NO_METADATA: dict[str, Any] = {"Date": None, "Creator": None, "Format": None, "Type": None}


def _style(extra: dict[str, Any] | None = None) -> AbstractContextManager[None]:
    return mpl.rc_context(cast(Any, {**_RC, **(extra or {})}))


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _svg(fig: Figure, name: str) -> str:
    buf = io.StringIO()
    with _style({"svg.hashsalt": f"tfrepro-{name}"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata=_NO_METADATA)
    text = buf.getvalue()
    start = text.find("<svg")  # drop the XML prolog and DOCTYPE: this goes inside HTML
    return text[start:].replace("<svg ", f'<svg class="plot" role="img" aria-label="{name}" ', 1)


def _figure(width: float, height: float) -> Figure:
    with _style():
        return Figure(figsize=(width, height), layout="constrained")


def _stride(n: int) -> int:
    return max(1, math.ceil(n / MAX_POINTS))


def _short(label: str, limit: int = 28) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def loss_curves(groups: Sequence[dict[str, Any]]) -> str | None:
    """Mean loss per step of each group with a ±1 std band across its seeds.

    groups: [{"label", "mean": [...], "std": [...]}] (std may be empty for a single seed).
    """
    groups = [g for g in groups if len(g.get("mean") or []) > 0]
    if not groups:
        return None
    with _style():
        fig = _figure(HALF, 3.3)
        ax = fig.add_subplot()
        for i, g in enumerate(groups):
            mean = np.asarray(g["mean"], dtype=float)
            k = _stride(len(mean))
            steps = np.arange(len(mean))[::k]
            ax.plot(
                steps,
                mean[::k],
                color=color(i),
                lw=1.5,
                ls=DASHES[i % len(DASHES)],
                label=_short(g["label"]),
            )
            std = np.asarray(g.get("std") or [], dtype=float)
            if len(std) == len(mean):
                lo, hi = (mean - std)[::k], (mean + std)[::k]
                ax.fill_between(steps, lo, hi, color=color(i), alpha=0.18, lw=0)
        ax.set_xlabel("training step")
        ax.set_ylabel("loss")
        ax.set_title("Training loss: mean across seeds, band = ±1 std")
        ax.legend(loc="best", ncols=2 if len(groups) > 5 else 1)
        return _svg(fig, "loss-curves")


def loss_gaps(reference: str, series: Sequence[dict[str, Any]]) -> str | None:
    """|loss difference| per step between matching seeds of `reference` and each other group.

    series: [{"label", "index" (colour), "curve": [[step, gap], ...]}], the gap being the
    largest over the matching seeds as the analysis reported it. Identical steps cannot be
    drawn on a log scale, so a pair that never differs is named in the legend instead.
    """
    if not series:
        return None
    with _style():
        fig = _figure(HALF, 3.3)
        ax = fig.add_subplot()
        drawn, last = 0, 0.0
        for s in series:
            curve = np.asarray(s["curve"], dtype=float).reshape(-1, 2)
            last = max(last, float(curve[:, 0].max(initial=0.0)))
            keep = np.isfinite(curve[:, 1]) & (curve[:, 1] > 0)
            label = _short(s["label"])
            if not keep.any():
                ax.plot([], [], color=color(s["index"]), label=f"{label}: identical")
                continue
            k = _stride(int(keep.sum()))
            ax.plot(
                curve[keep, 0][::k],
                curve[keep, 1][::k],
                color=color(s["index"]),
                lw=1.5,
                ls=DASHES[s["index"] % len(DASHES)],
                label=label,
            )
            drawn += 1
        if drawn:
            ax.set_yscale("log")
            # plain "1e-07" labels: the default ones are mathtext, which is switched off
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0e}"))
            ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
        else:
            ax.set_yticks([])
            ax.text(
                0.5,
                0.5,
                "losses identical at every step",
                transform=ax.transAxes,
                ha="center",
                va="center",
                color=MUTED,
            )
        ax.set_xlim(0, max(last, 1.0))
        ax.set_xlabel("training step")
        ax.set_ylabel("|loss difference|")
        ax.set_title(f"Loss gap to {_short(reference, 40)}, matching seeds (log scale)")
        ax.legend(loc="best", ncols=2 if len(series) > 6 else 1)
        return _svg(fig, "loss-gaps")


def metric_distributions(
    labels: Sequence[str], metrics: Mapping[str, Sequence[Sequence[float]]]
) -> str | None:
    """Final metric values per group: a box with every seed as a point on top.

    metrics: metric name -> one list of values per group (in `labels` order).
    """
    names = [m for m, per_group in metrics.items() if any(len(v) for v in per_group)]
    if not names or not labels:
        return None
    cols = min(len(names), 2)
    rows = math.ceil(len(names) / cols)
    width = max(2.6, min(0.6 * len(labels) + 1.2, HALF / cols))
    with _style():
        fig = _figure(width * cols, 3.0 * rows)
        for n, name in enumerate(names):
            ax = fig.add_subplot(rows, cols, n + 1)
            values = metrics[name]
            positions = [i for i, v in enumerate(values) if len(v)]
            ax.boxplot(
                [values[i] for i in positions],
                positions=positions,
                widths=0.5,
                showfliers=False,
                patch_artist=True,
                boxprops={"facecolor": "#f5f7fa", "edgecolor": "#9aa5b1"},
                medianprops={"color": INK},
                whiskerprops={"color": "#9aa5b1"},
                capprops={"color": "#9aa5b1"},
            )
            for i in positions:
                v = np.asarray(values[i], dtype=float)
                # fixed, evenly spread offsets (not random) so the figure is reproducible
                offsets = np.linspace(-0.14, 0.14, len(v)) if len(v) > 1 else np.zeros(1)
                ax.scatter(
                    i + offsets, v, s=22, color=color(i), edgecolor="white", linewidth=0.6, zorder=3
                )
            ax.set_xticks(
                range(len(labels)),
                [_short(x, 18) for x in labels],
                rotation=30 if len(labels) > 4 else 0,
                ha="right" if len(labels) > 4 else "center",
            )
            ax.set_xlim(-0.6, len(labels) - 0.4)
            ax.grid(axis="x", visible=False)
            ax.set_title(f"final {name}")
        return _svg(fig, "metric-distributions")


def _heatmap_text(ax: Any, x: int, y: int, text: str, dark: bool) -> None:
    ax.text(x, y, text, ha="center", va="center", fontsize=8, color="white" if dark else INK)


def churn_matrix(labels: Sequence[str], matrix: Sequence[Sequence[float | None]]) -> str | None:
    """Share of test predictions that differ: between groups off the diagonal, between seeds
    of one group on it."""
    m = np.array([[np.nan if v is None else v for v in row] for row in matrix], dtype=float)
    if m.size == 0 or not np.isfinite(m).any():
        return None
    n = len(labels)
    side = min(HALF - 1.0, 1.6 + 0.55 * n)
    with _style():
        fig = _figure(side + 1.0, side)
        ax = fig.add_subplot()
        cmap = LinearSegmentedColormap.from_list("churn", ["#f7fbff", "#6baed6", "#08306b"])
        top = max(float(np.nanmax(m)), 0.01)  # an all-zero matrix still gets a 0-1% scale
        im = ax.imshow(np.ma.masked_invalid(m), cmap=cmap, vmin=0, vmax=top)
        for y in range(n):
            for x in range(n):
                if np.isfinite(m[y, x]):
                    _heatmap_text(ax, x, y, f"{100 * m[y, x]:.1f}%", m[y, x] > 0.6 * top)
        ticks = [_short(x, 16) for x in labels]
        ax.set_xticks(
            range(n), ticks, rotation=30 if n > 3 else 0, ha="right" if n > 3 else "center"
        )
        ax.set_yticks(range(n), ticks)
        ax.grid(False)
        ax.set_title("Prediction churn (diagonal: between seeds of one group)")
        cbar = fig.colorbar(im, ax=ax, shrink=0.8, format=lambda v, _: f"{100 * v:.0f}%")
        cbar.outline.set_visible(False)
        return _svg(fig, "churn-matrix")


def per_class_shifts(
    pairs: Sequence[str],
    classes: Sequence[str],
    shifts: Sequence[Sequence[float | None]],
    metric: str,
) -> str | None:
    """Per-class metric change (b - a) for every compared pair, on a diverging scale."""
    m = np.array([[np.nan if v is None else v for v in row] for row in shifts], dtype=float)
    if m.size == 0 or not np.isfinite(m).any():
        return None
    bound = max(float(np.nanmax(np.abs(m))), 0.01)  # all-zero shifts: a ±0.01 scale
    with _style():
        fig = _figure(min(FULL, 3.2 + 0.5 * len(classes)), 1.1 + 0.3 * len(pairs))
        ax = fig.add_subplot()
        im = ax.imshow(
            np.ma.masked_invalid(m),
            cmap="RdBu",
            aspect="auto",
            norm=TwoSlopeNorm(vcenter=0.0, vmin=-bound, vmax=bound),
        )
        if len(classes) <= 16 and len(pairs) <= 20:
            for y in range(len(pairs)):
                for x in range(len(classes)):
                    if np.isfinite(m[y, x]):
                        text = f"{m[y, x]:+.2f}" if m[y, x] else "0"
                        _heatmap_text(ax, x, y, text, abs(m[y, x]) > 0.65 * bound)
        ax.set_xticks(range(len(classes)), [_short(c, 10) for c in classes])
        ax.set_yticks(range(len(pairs)), [_short(p, 36) for p in pairs])
        ax.set_xlabel("class")
        ax.grid(False)
        ax.set_title(f"Per-class {metric} shift (b − a)")
        cbar = fig.colorbar(im, ax=ax, shrink=0.9)
        cbar.outline.set_visible(False)
        return _svg(fig, "per-class-shifts")
