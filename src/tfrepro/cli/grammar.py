"""Every subcommand's options, one function per command (or family of commands). No behaviour."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tfrepro import DEFAULT_STORE
from tfrepro.cli.argtypes import Parser, positive_float, positive_int, probability, seeds
from tfrepro.execute.local import default_jobs

JOBS_HELP = "cells at once (default: one per core and 1.5 GB of free memory"


def store_arg(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "--store",
        type=Path,
        default=DEFAULT_STORE,
        help="result store folder (default .tfrepro)",
    )


def _env_args(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--timeout", type=positive_float, help="seconds per cell (over the spec)")
    sp.add_argument("--python", help="interpreter to prefer for every release that supports it")
    sp.add_argument("--cache", type=Path, help="environment cache (default ~/.cache/tfrepro)")


def _analysis_args(sp: argparse.ArgumentParser, by: bool = True) -> None:
    if by:
        sp.add_argument(
            "--by",
            default="tf_version",
            help="axis: tf_version (default), keras_version, python_version, attempt, a knob "
            "(onednn, threads, …) or an environment variable of the matrix",
        )
    sp.add_argument(
        "--margin",
        type=positive_float,
        help="equivalence margin in the metric's units (default: the spec's, else 1 noise floor)",
    )
    sp.add_argument("--alpha", type=probability, default=0.05, help="test level (default 0.05)")


def _run_args(sp: argparse.ArgumentParser) -> None:
    store_arg(sp)
    sp.add_argument(
        "--tf", help="releases: 2.16 (latest patch), 2.16.1, ranges 2.12..2.16, comma separated"
    )
    sp.add_argument("--seeds", type=seeds, help="seeds: 0,1,2 or 0..4")
    jobs = default_jobs()
    sp.add_argument("--jobs", type=positive_int, default=jobs, help=f"{JOBS_HELP} ({jobs})")
    sp.add_argument("--fresh", action="store_true", help="each cell in a fresh process")
    sp.add_argument("--executor", choices=("local", "ray"), default="local", help="where")
    sp.add_argument("--address", help="Ray cluster address (--executor ray; default: auto)")
    for flag, text in (
        ("--dry-run", "list the cells without running anything"),
        ("--rerun", "run cells again even if the store has them"),
        ("--retry-failed", "run failed and timed-out cells again"),
    ):
        sp.add_argument(flag, action="store_true", help=text)
    _env_args(sp)


def _settle_args(sp: argparse.ArgumentParser, until: str) -> None:
    sp.add_argument(
        "--until-settled",
        action="store_true",
        help=f"add seeds in rounds until {until} (group-sequential test; seeds 0, 1, 2, …)",
    )
    sp.add_argument(
        "--round",
        type=positive_int,
        metavar="K",
        help="--until-settled: seeds per group in each round (default 8)",
    )
    sp.add_argument(
        "--max-seeds",
        type=positive_int,
        metavar="N",
        help="--until-settled: at most this many seeds per group (default 40)",
    )


def add_run(sub: Any) -> None:
    """run, demo, cells."""
    r = sub.add_parser("run", help="run an experiment across releases, seeds and knobs")
    r.add_argument(
        "spec", nargs="?", type=Path, help="experiment spec (TOML); default: built-in MLP on digits"
    )
    _run_args(r)
    r.add_argument("--model", help="model: builtin:mlp|cnn|rnn or a .py file")
    r.add_argument("--data", help="dataset: digits, breast_cancer, wine, iris, synthetic, .npz")
    r.add_argument("--epochs", type=positive_int, help="epochs (overrides the spec)")
    r.add_argument("--resolution", choices=("era", "latest"), help="dependencies (default era)")
    _settle_args(r, "every comparison between releases settles")
    r.add_argument("--json", action="store_true", help="--until-settled: print the result as JSON")

    d = sub.add_parser("demo", help="the built-in experiment: 3 releases (Keras 2 and 3) × 3 seeds")
    _run_args(d)

    c = sub.add_parser("cells", help="list recorded cells")
    store_arg(c)
    c.add_argument("--json", action="store_true", help="print a JSON array, one object per cell")
    c.add_argument("--all", action="store_true", help="every attempt, not only the latest per cell")


def add_explain(sub: Any) -> None:
    x = sub.add_parser(
        "explain", help="where two groups (e.g. tf=2.9 tf=2.15) first diverge, and why"
    )
    x.add_argument("a", help="group A: a release (2.9) or key=value pairs (tf=2.16,onednn=off)")
    x.add_argument("b", help="group B, same form")
    x.add_argument("spec", nargs="?", type=Path, help="experiment spec (default: built-in MLP)")
    x.add_argument("--seed", type=int, default=0, help="seed of the cells compared (default 0)")
    x.add_argument("--steps", type=positive_int, default=20, help="lockstep steps (default 20)")
    x.add_argument(
        "--fit",
        type=positive_int,
        metavar="N",
        help="a script: probe at its N-th fit call (default: the first fit whose model ends "
        "differently in the stored cells of A and B, else the first)",
    )
    x.add_argument(
        "--model", metavar="NAME", help="a script: probe at the first fit of the model NAME"
    )
    x.add_argument("--no-ablation", action="store_true", help="skip the knob flips")
    x.add_argument(
        "--jobs", type=positive_int, default=2, help="knob flips probed in parallel (default 2)"
    )
    x.add_argument("--fresh", action="store_true", help="each probe in a fresh process")
    x.add_argument(
        "--knobs",
        help="flip only these knobs, comma-separated (default: every one "
        "that applies: onednn, legacy_keras, optimizer_impl, xla, threads)",
    )
    x.add_argument("--json", action="store_true")
    store_arg(x)
    x.add_argument("--cache", type=Path)
    x.add_argument("--python")
    x.add_argument("--timeout", type=positive_float)


def add_verdicts(sub: Any) -> None:
    """compare, baseline save, check, report."""
    cmp = sub.add_parser("compare", help="verdicts between groups of cells (default: releases)")
    store_arg(cmp)
    _analysis_args(cmp)
    cmp.add_argument(
        "--baseline", metavar="VALUE", help="compare every group with this one (default: all pairs)"
    )
    cmp.add_argument("--metric", action="append", help="only this metric (repeatable)")
    cmp.add_argument("--json", action="store_true", help="print a JSON array, one object per pair")

    bl = sub.add_parser("baseline", help="save the store's cells as a baseline file for `check`")
    blsub = bl.add_subparsers(dest="baseline_command", metavar="ACTION", parser_class=Parser)
    bls = blsub.add_parser("save", help="write a baseline JSON file (commit it)")
    bls.add_argument("file", type=Path)
    store_arg(bls)
    bls.add_argument("--by", default="tf_version", help="axis to group by (default tf_version)")

    ck = sub.add_parser(
        "check", help="compare the store with a baseline: exit 0 same, 1 different, 3 inconclusive"
    )
    ck.add_argument("--baseline", type=Path, required=True, metavar="FILE")
    ck.add_argument(
        "spec", nargs="?", type=Path, help="--until-settled: the experiment spec to run"
    )
    _run_args(ck)
    _settle_args(ck, "every comparison with the baseline settles (runs the spec or script)")
    _analysis_args(ck, by=False)
    ck.add_argument("--group", help="the baseline group to compare with (default: same label)")
    ck.add_argument("--json", action="store_true")

    rp = sub.add_parser(
        "report", help="self-contained HTML report, terminal and Markdown summaries of the verdicts"
    )
    store_arg(rp)
    _analysis_args(rp)
    rp.add_argument(
        "--baseline", metavar="VALUE", help="compare every group with this one (default: all pairs)"
    )
    rp.add_argument("--metric", action="append", help="only this metric (repeatable)")
    rp.add_argument(
        "--out", type=Path, default=Path("report.html"), help="HTML file (default report.html)"
    )
    rp.add_argument(
        "--markdown", type=Path, metavar="FILE", help="also write a Markdown summary (PR comment)"
    )


def add_bisect(sub: Any) -> None:
    bi = sub.add_parser("bisect", help="the first release between --good and --bad that changes")
    bi.add_argument("spec", nargs="?", type=Path, help="experiment spec (default: built-in MLP)")
    bi.add_argument(
        "--good",
        required=True,
        help="a release that behaves as expected, e.g. 2.9 (or nightly-DAY)",
    )
    bi.add_argument(
        "--bad",
        required=True,
        help="a release that behaves differently, e.g. 2.15, nightly (the newest tf-nightly) "
        "or nightly-20261001",
    )
    bi.add_argument(
        "--criterion",
        choices=("bitwise", "metric", "runs"),
        default="bitwise",
        help="bitwise: final weights equal the good release's; metric: compare verdicts; "
        "runs: the script finishes (where it starts or stops running)",
    )
    bi.add_argument(
        "--keras",
        action="store_true",
        help="--good and --bad are Keras versions (3.6.0, 3.7.0.dev2024110803): bisect Keras "
        "releases, then keras-nightly builds, with TensorFlow fixed at --tf",
    )
    bi.add_argument("--tf", help="--keras: the TensorFlow release held fixed, e.g. 2.18")
    bi.add_argument("--metric", help="metric for --criterion metric (default: every final metric)")
    bi.add_argument("--margin", type=positive_float, help="equivalence margin (metric units)")
    bi.add_argument("--seeds", type=seeds, help="seeds per probe (default 0; 0..4 for metric)")
    bi.add_argument(
        "--max-seeds",
        type=positive_int,
        default=20,
        help="--criterion metric: add seeds up to this many when a probe is "
        "inconclusive (default 20)",
    )
    bi.add_argument("--json", action="store_true")
    bi.add_argument("--jobs", type=positive_int, default=default_jobs(), help=JOBS_HELP + ")")
    bi.add_argument("--fresh", action="store_true", help="each cell in a fresh process")
    store_arg(bi)
    bi.add_argument("--cache", type=Path)
    bi.add_argument("--python")
    bi.add_argument("--timeout", type=positive_float)


def add_versions(sub: Any) -> None:
    v = sub.add_parser("versions", help="known TensorFlow releases and the Python each needs")
    v.add_argument("--json", action="store_true")
    v.add_argument("--refresh", action="store_true", help="refresh the catalogue from PyPI")
    v.add_argument(
        "--nightly", action="store_true", help="the tf-nightly builds (for --tf nightly-DAY)"
    )


def add_envs(sub: Any) -> None:
    e = sub.add_parser("envs", help="the environment cache: list, build, prune")
    esub = e.add_subparsers(dest="envs_command", metavar="ACTION", parser_class=Parser)
    el = esub.add_parser("list", help="cached environments")
    el.add_argument("--cache", type=Path)
    el.add_argument("--json", action="store_true")
    eb = esub.add_parser("build", help="build environments ahead of a run")
    eb.add_argument("--tf", required=True)
    eb.add_argument("--python")
    eb.add_argument("--cache", type=Path)
    eb.add_argument("--resolution", choices=("era", "latest"), default="era")
    eb.add_argument("--legacy-keras", action="store_true", help="add tf-keras (TF ≥ 2.16)")
    ep = esub.add_parser("prune", help="remove unfinished builds and unused environments")
    ep.add_argument("--cache", type=Path)
    ep.add_argument(
        "--older-than", type=positive_float, metavar="DAYS", help="remove envs unused this long"
    )
    ep.add_argument("--all", action="store_true", help="remove every cached environment")
    ep.add_argument(
        "--include-bisects",
        action="store_true",
        help="remove the environments a bisection kept in the store used too (kept by default: "
        "the index prunes old nightlies)",
    )
    store_arg(ep)
