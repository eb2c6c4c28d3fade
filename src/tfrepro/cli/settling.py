"""`run --until-settled` and `check --until-settled`: the rounds of seeds (tasks/settle), their
progress on stderr while they run, the result rendered or printed as JSON."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from tfrepro.cli.options import print_json, run_options, settle_design, spec_overrides
from tfrepro.errors import UsageError


def run_until_settled(spec: Any, opts: Any, args: argparse.Namespace, console: Console) -> int:
    _settle(spec, opts, settle_design(args, opts), args, console, against=None)
    return 0


def check_until_settled(args: argparse.Namespace, console: Console) -> int:
    """The spec or script in rounds of seeds, each round's cells compared with the baseline
    (which keeps its seeds), until every comparison settles; check's exit codes."""
    from tfrepro.analysis import baseline
    from tfrepro.analysis.load import read_baseline
    from tfrepro.tasks import run, settle

    if args.seeds is not None:
        raise UsageError("--until-settled picks the seeds itself (0, 1, 2, …): drop --seeds")
    opts = run_options(args, "tfrepro check " + " ".join(args.argv[1:]))
    design = settle_design(args, opts)
    design.alpha = args.alpha
    source = str(args.baseline)
    data = baseline.validate(read_baseline(args.baseline), source)
    spec = run.load_spec(args.spec, spec_overrides(args))
    against = settle.Against(source, data, args.group)
    result = _settle(spec, opts, design, args, console, against=against, margin=args.margin)
    return {"pass": 0, "different": 1}.get(result.outcome or "", 3)


def _settle(
    spec: Any,
    opts: Any,
    design: Any,
    args: argparse.Namespace,
    console: Console,
    *,
    against: Any,
    margin: float | None = None,
) -> Any:
    from tfrepro.report import settle_view
    from tfrepro.report.progress import RichReporter
    from tfrepro.tasks import results, settle

    out = Console(stderr=True) if args.json else console
    result = settle.settle(
        spec,
        opts,
        lambda: RichReporter(out),
        design,
        margin=margin,
        progress=settle_view.progress(out),
        against=against,
    )
    results.keep_explanation(opts.store, result)  # the report shows the design and its path
    if args.json:
        print_json(result.as_dict())
    else:
        settle_view.render(console, result)
    return result
