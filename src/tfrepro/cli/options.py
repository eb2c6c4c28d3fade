"""Command-line options turned into what the tasks take: run options, spec overrides, the
script after `--`; and the one JSON printer."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=1, default=str) + "\n")


def run_options(args: argparse.Namespace, command: str) -> Any:
    from tfrepro.tasks.planning import Options

    names = ("dry_run", "rerun", "retry_failed", "executor", "address")
    flags: dict[str, Any] = {k: getattr(args, k) for k in names if hasattr(args, k)}
    flags["warm"] = not getattr(args, "fresh", False)
    where: dict[str, Any] = {"store": args.store, "cache": args.cache, "python": args.python}
    return Options(jobs=args.jobs, timeout=args.timeout, command=command, **where, **flags)


def script_command(args: argparse.Namespace) -> dict[str, Any]:
    """`-- python train.py ARGS`: the spec's [script], run from the current folder."""
    script = getattr(args, "script", None)
    return {} if script is None else {"script.command": script, "script.cwd": str(Path.cwd())}


def spec_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Command-line options that replace spec entries."""
    out: dict[str, Any] = script_command(args)
    if getattr(args, "tf", None):
        out["matrix.tf"] = [t for t in args.tf.split(",") if t.strip()]
    if getattr(args, "seeds", None) is not None:
        out["matrix.seeds"] = args.seeds
    for flag, key in (
        ("model", "model.source"),
        ("data", "data.name"),
        ("epochs", "train.epochs"),
        ("resolution", "matrix.resolution"),
    ):
        if getattr(args, flag, None) is not None:
            out[key] = getattr(args, flag)
    return out


def settle_design(args: argparse.Namespace, opts: Any) -> Any:
    """The sequential design of `run --until-settled` from --round and --max-seeds."""
    from tfrepro.analysis.sequential import Design
    from tfrepro.errors import UsageError

    if not args.until_settled:
        raise UsageError("--max-seeds and --round apply with --until-settled; add it")
    if opts.dry_run:
        raise UsageError(
            "--until-settled decides its rounds as results come in, a dry run cannot show "
            "them: drop --dry-run (or --until-settled to see a fixed plan)"
        )
    # 8 a round, at most 40: power 0.95 at one noise floor, median trainings 0.57x the fixed
    # design of that power (benchmarks/bench_sequential.py)
    step = args.round or 8
    most = args.max_seeds or max(40, step)
    if step < 2:
        raise UsageError("--round 1: a round needs at least 2 seeds per group (a noise floor)")
    if most < step:
        raise UsageError(
            f"--max-seeds {most} is below the first round of {step} seeds per group: raise "
            f"--max-seeds or lower --round"
        )
    return Design(first=step, step=step, max_seeds=most)
