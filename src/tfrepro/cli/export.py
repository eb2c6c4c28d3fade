"""`tfrepro export mlflow`: its grammar and its command (kept apart from parser.py and
commands.py, which are full)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from tfrepro.errors import UsageError
from tfrepro.report.style import visible


def add_parser(sub: Any, store_arg: Any) -> None:
    x = sub.add_parser("export", help="export the store's cells (to MLflow)")
    x.add_argument("target", choices=("mlflow",), help="where to: mlflow (tfrepro[mlflow])")
    store_arg(x)
    x.add_argument("--tracking-uri", help="MLflow tracking URI (default: MLflow's own)")
    x.add_argument("--experiment", default="tfrepro", help="MLflow experiment (default tfrepro)")


def cmd_export(args: argparse.Namespace, console: Console) -> int:
    from tfrepro.tasks import export

    if not args.experiment.strip():
        raise UsageError("--experiment: give a non-empty MLflow experiment name")
    done = export.export_mlflow(
        Path(args.store), tracking_uri=args.tracking_uri, experiment=args.experiment
    )
    console.print(
        visible(
            f"MLflow ({done.tracking_uri}), experiment '{done.experiment}': {done.created} runs "
            f"added, {done.skipped} already there; verdicts and the report on run "
            f"{done.parent_run_id}"
        ),
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    return 0
