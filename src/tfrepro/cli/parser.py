"""The command line's grammar: every subcommand, option and argument type. No behaviour.

Argument types turn text into values or raise one-line errors; argparse's own errors become a
`UsageError` (exit 2) through `_Parser.error`.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import NoReturn

from tfrepro import DEFAULT_STORE, __version__
from tfrepro.cli.export import add_parser as add_export_parser
from tfrepro.errors import UsageError
from tfrepro.execute.local import default_jobs

JOBS_HELP = "cells at once (default: one per core and 1.5 GB of free memory"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


MAX_SEEDS = 10_000  # a seed is a cell per release and setting


def seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            if ".." in part:
                lo, hi = (int(x) for x in part.split(".."))
                if hi < lo:
                    raise UsageError(
                        f"--seeds: range '{part}' is empty: its start is after its end "
                        f"(write the smaller seed first, e.g. {hi}..{lo})"
                    )
                if hi - lo >= MAX_SEEDS:
                    raise UsageError(f"--seeds: range '{part}' is too long: at most {MAX_SEEDS}")
                out.extend(range(lo, hi + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise UsageError(
                f"--seeds: '{part}' is not a seed; give non-negative integers such as 0,1,2 or 0..4"
            ) from None
    if any(s < 0 for s in out):
        raise UsageError(
            f"--seeds: seeds must be non-negative, got {text}; give seeds such as 0,1,2 or 0..4"
        )
    return out


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got '{text}'")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _probability(text: str) -> float:
    value = _positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


SCRIPT_COMMANDS = ("run", "explain", "bisect")


def split_script(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """`tfrepro run [OPTIONS] -- python train.py ARGS`: the options, and the script's command
    (None without `--`)."""
    if "--" not in argv:
        return argv, None
    at = argv.index("--")
    return argv[:at], argv[at + 1 :]


def check_script(command: str, script: list[str] | None) -> None:
    if script is None:
        return
    if command not in SCRIPT_COMMANDS:
        raise UsageError(
            f"`tfrepro {command}` takes no script after `--`; "
            f"{', '.join(SCRIPT_COMMANDS)} do (e.g. tfrepro run --tf 2.15 -- python train.py)"
        )
    if not script:
        raise UsageError(
            "no script after `--`; give the command that trains, "
            "e.g. `tfrepro run --tf 2.15 -- python train.py --epochs 3`"
        )


def build() -> _Parser:
    p = _Parser(
        prog="tfrepro",
        description="Does your training change across TensorFlow releases? Measure it.",
    )
    p.add_argument("--version", action="version", version=f"tfrepro {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def store_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--store",
            type=Path,
            default=DEFAULT_STORE,
            help="result store folder (default .tfrepro)",
        )

    def analysis_args(sp: argparse.ArgumentParser, by: bool = True) -> None:
        if by:
            sp.add_argument(
                "--by",
                default="tf_version",
                help="axis: tf_version (default), keras_version, python_version, attempt, a knob "
                "(onednn, threads, …) or an environment variable of the matrix",
            )
        sp.add_argument(
            "--margin",
            type=_positive_float,
            help="equivalence margin in the metric's units (default: the spec's, else 1 noise "
            "floor)",
        )
        sp.add_argument(
            "--alpha", type=_probability, default=0.05, help="test level (default 0.05)"
        )

    def run_args(sp: argparse.ArgumentParser) -> None:
        store_arg(sp)
        sp.add_argument(
            "--tf", help="releases: 2.16 (latest patch), 2.16.1, ranges 2.12..2.16, comma separated"
        )
        sp.add_argument("--seeds", type=seeds, help="seeds: 0,1,2 or 0..4")
        jobs = default_jobs()
        sp.add_argument("--jobs", type=_positive_int, default=jobs, help=f"{JOBS_HELP} ({jobs})")
        sp.add_argument("--fresh", action="store_true", help="each cell in a fresh process")
        sp.add_argument("--executor", choices=("local", "ray"), default="local", help="where")
        sp.add_argument("--address", help="Ray cluster address (--executor ray; default: auto)")
        for flag, text in (
            ("--dry-run", "list the cells without running anything"),
            ("--rerun", "run cells again even if the store has them"),
            ("--retry-failed", "run failed and timed-out cells again"),
        ):
            sp.add_argument(flag, action="store_true", help=text)
        sp.add_argument("--timeout", type=_positive_float, help="seconds per cell (over the spec)")
        sp.add_argument("--python", help="interpreter to prefer for every release that supports it")
        sp.add_argument("--cache", type=Path, help="environment cache (default ~/.cache/tfrepro)")

    r = sub.add_parser("run", help="run an experiment across releases, seeds and knobs")
    r.add_argument(
        "spec", nargs="?", type=Path, help="experiment spec (TOML); default: built-in MLP on digits"
    )
    run_args(r)
    r.add_argument("--model", help="model: builtin:mlp|cnn|rnn or a .py file")
    r.add_argument("--data", help="dataset: digits, breast_cancer, wine, iris, synthetic, .npz")
    r.add_argument("--epochs", type=_positive_int, help="epochs (overrides the spec)")
    r.add_argument("--resolution", choices=("era", "latest"), help="dependencies (default era)")

    d = sub.add_parser("demo", help="the built-in experiment: 3 releases (Keras 2 and 3) × 3 seeds")
    run_args(d)

    c = sub.add_parser("cells", help="list recorded cells")
    store_arg(c)
    c.add_argument("--json", action="store_true", help="print a JSON array, one object per cell")
    c.add_argument("--all", action="store_true", help="every attempt, not only the latest per cell")

    x = sub.add_parser(
        "explain", help="where two groups (e.g. tf=2.9 tf=2.15) first diverge, and why"
    )
    x.add_argument("a", help="group A: a release (2.9) or key=value pairs (tf=2.16,onednn=off)")
    x.add_argument("b", help="group B, same form")
    x.add_argument("spec", nargs="?", type=Path, help="experiment spec (default: built-in MLP)")
    x.add_argument("--seed", type=int, default=0, help="seed of the cells compared (default 0)")
    x.add_argument("--steps", type=_positive_int, default=20, help="lockstep steps (default 20)")
    x.add_argument("--no-ablation", action="store_true", help="skip the knob flips")
    x.add_argument(
        "--jobs", type=_positive_int, default=2, help="knob flips probed in parallel (default 2)"
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
    x.add_argument("--timeout", type=_positive_float)

    cmp = sub.add_parser("compare", help="verdicts between groups of cells (default: releases)")
    store_arg(cmp)
    analysis_args(cmp)
    cmp.add_argument(
        "--baseline", metavar="VALUE", help="compare every group with this one (default: all pairs)"
    )
    cmp.add_argument("--metric", action="append", help="only this metric (repeatable)")
    cmp.add_argument("--json", action="store_true", help="print a JSON array, one object per pair")

    bl = sub.add_parser("baseline", help="save the store's cells as a baseline file for `check`")
    blsub = bl.add_subparsers(dest="baseline_command", metavar="ACTION", parser_class=_Parser)
    bls = blsub.add_parser("save", help="write a baseline JSON file (commit it)")
    bls.add_argument("file", type=Path)
    store_arg(bls)
    bls.add_argument("--by", default="tf_version", help="axis to group by (default tf_version)")

    ck = sub.add_parser(
        "check", help="compare the store with a baseline: exit 0 same, 1 different, 3 inconclusive"
    )
    ck.add_argument("--baseline", type=Path, required=True, metavar="FILE")
    store_arg(ck)
    analysis_args(ck, by=False)
    ck.add_argument("--group", help="the baseline group to compare with (default: same label)")
    ck.add_argument("--json", action="store_true")

    rp = sub.add_parser(
        "report", help="self-contained HTML report, terminal and Markdown summaries of the verdicts"
    )
    store_arg(rp)
    analysis_args(rp)
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

    bi = sub.add_parser("bisect", help="the first release between --good and --bad that changes")
    bi.add_argument("spec", nargs="?", type=Path, help="experiment spec (default: built-in MLP)")
    bi.add_argument("--good", required=True, help="a release that behaves as expected, e.g. 2.9")
    bi.add_argument("--bad", required=True, help="a release that behaves differently, e.g. 2.15")
    bi.add_argument("--criterion", choices=("bitwise", "metric"), default="bitwise")
    bi.add_argument("--metric", help="metric for --criterion metric (default: every final metric)")
    bi.add_argument("--margin", type=_positive_float, help="equivalence margin (metric units)")
    bi.add_argument("--seeds", type=seeds, help="seeds per probe (default 0; 0..4 for metric)")
    bi.add_argument(
        "--max-seeds",
        type=_positive_int,
        default=20,
        help="--criterion metric: add seeds up to this many when a probe is "
        "inconclusive (default 20)",
    )
    bi.add_argument("--json", action="store_true")
    bi.add_argument("--jobs", type=_positive_int, default=default_jobs(), help=JOBS_HELP + ")")
    bi.add_argument("--fresh", action="store_true", help="each cell in a fresh process")
    store_arg(bi)
    bi.add_argument("--cache", type=Path)
    bi.add_argument("--python")
    bi.add_argument("--timeout", type=_positive_float)

    v = sub.add_parser("versions", help="known TensorFlow releases and the Python each needs")
    v.add_argument("--json", action="store_true")
    v.add_argument("--refresh", action="store_true", help="refresh the catalogue from PyPI")
    add_export_parser(sub, store_arg)

    e = sub.add_parser("envs", help="the environment cache: list, build, prune")
    esub = e.add_subparsers(dest="envs_command", metavar="ACTION", parser_class=_Parser)
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
        "--older-than", type=_positive_float, metavar="DAYS", help="remove envs unused this long"
    )
    ep.add_argument("--all", action="store_true", help="remove every cached environment")
    return p
