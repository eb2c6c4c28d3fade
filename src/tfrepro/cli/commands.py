"""One function per subcommand: call a task, render its result, return the exit code.

Tasks (tfrepro.tasks) compute and print nothing; views (tfrepro.report) print and compute
nothing. Imports are local so that a command loads only what it uses (start-up time).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console

from tfrepro.cli.options import print_json, run_options, script_command, spec_overrides
from tfrepro.errors import UsageError

DEMO_SPEC = Path(__file__).parent.parent / "demo" / "demo.toml"


def _run_spec(
    spec_path: Path | None, args: argparse.Namespace, console: Console, command: str
) -> int:
    from tfrepro.report import views
    from tfrepro.report.progress import RichReporter
    from tfrepro.report.terminal import run_summary
    from tfrepro.tasks import planning, run

    overrides = spec_overrides(args)
    spec = run.load_spec(spec_path, overrides)
    opts = run_options(args, command)
    if (
        getattr(args, "until_settled", False)
        or getattr(args, "max_seeds", None)
        or getattr(args, "round", None)
    ):
        from tfrepro.cli.settling import run_until_settled

        return run_until_settled(spec, opts, args, console)
    if opts.dry_run:
        planned = planning.make_plan(spec, opts)
        views.dry_run(console, planned.cells, planned.warnings)
        return 0
    with RichReporter(console) as reporter:
        result = run.run(spec, opts, reporter)
    views.script_notes(console, result)
    run_summary(console, result.cells)
    # explain rebuilds one cell per release from the spec alone: only hint where that works
    explainable = set(overrides) <= {"matrix.tf", "matrix.seeds", "script.command", "script.cwd"}
    views.run_footer(console, result, opts.store, spec_path=spec_path, explainable=explainable)
    return 0


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    return _run_spec(args.spec, args, console, "tfrepro run " + " ".join(args.argv[1:]))


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    return _run_spec(DEMO_SPEC, args, console, "tfrepro demo")


def cmd_cells(args: argparse.Namespace, console: Console) -> int:
    from tfrepro.report.terminal import cell_table
    from tfrepro.tasks import results

    cells = results.cells(args.store, all_attempts=args.all, with_loss=args.json)
    if args.json:
        print_json(cells)
    else:
        cell_table(console, cells)
    return 0


def cmd_versions(args: argparse.Namespace, console: Console) -> int:
    from tfrepro.report.terminal import versions_table
    from tfrepro.tasks import envs

    rows, source = envs.versions(refresh=args.refresh, nightlies=args.nightly)
    if args.json:
        print_json(rows)
    else:
        versions_table(console, rows, source)
    return 0


def cmd_envs(args: argparse.Namespace, console: Console) -> int:
    from tfrepro.report import views
    from tfrepro.tasks import envs, results

    action = args.envs_command
    if action is None:
        raise UsageError("envs needs an action: list, build or prune (see `tfrepro envs --help`)")
    if action == "list":
        rows, root = envs.list_envs(args.cache)
        if args.json:
            print_json(rows)
        else:
            views.envs_table(console, rows, root)
    elif action == "prune":
        if not args.all and args.older_than is None:
            raise UsageError("envs prune needs --older-than DAYS or --all")
        keep = {} if args.include_bisects else results.bisect_envs(args.store)
        removed, root = envs.prune(
            args.cache, older_than=args.older_than, everything=args.all, keep=frozenset(keep)
        )
        views.pruned(console, removed, root, kept=keep)
    else:
        for req in envs.requests(
            args.tf, python=args.python, resolution=args.resolution, legacy_keras=args.legacy_keras
        ):
            with console.status(f"building TF {req.tf_version} on Python {req.python_version}"):
                env, seconds = envs.build(req, args.cache)
            views.env_built(console, env, seconds)
    return 0


def cmd_explain(args: argparse.Namespace, console: Console) -> int:
    from tfrepro.report import views
    from tfrepro.report.explain_view import render
    from tfrepro.tasks import explain, results, run

    knobs = explain.parse_knobs(args.knobs)
    base = run.load_spec(args.spec, script_command(args))
    err = Console(stderr=True)
    with err.status("explaining") as status:
        result = explain.explain(
            base,
            args.a,
            args.b,
            seed=args.seed,
            steps=args.steps,
            opts=run_options(args, "tfrepro explain"),
            ablate=not args.no_ablation,
            knobs=knobs,
            progress=status.update,
            fit=args.fit,
            model=args.model,
        )
    results.keep_explanation(args.store, result)
    if args.json:
        print_json(result.as_dict())
    else:
        render(console, result)
    views.explanation_kept(err if args.json else console, args.store, result.kind)
    return 0


def cmd_compare(args: argparse.Namespace, console: Console) -> int:
    from tfrepro.report import breaks_view, views
    from tfrepro.report.compare_view import (
        compare_table,
        pair_notes,
        sequential_notes,
        verdict_notes,
    )
    from tfrepro.tasks import results

    found = results.compare_store(
        args.store,
        by=args.by,
        metrics=results.metric_list(args.metric),
        margin=args.margin,
        baseline=args.baseline,
        alpha=args.alpha,
    )
    rows = found.rows
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=1) + "\n")
        return 0
    if not rows:
        views.nothing_to_compare(console, args.by, found.ok_groups)
        breaks_view.failures(console, found.failures, by=args.by)
        return 0
    compare_table(console, rows, title=f"{len(found.cells)} cell(s) compared by {args.by}")
    pair_notes(console, rows)
    verdict_notes(console, rows)
    sequential_notes(console, rows)
    breaks_view.failures(console, found.failures, by=args.by)
    return 0


def cmd_baseline(args: argparse.Namespace, console: Console) -> int:
    from tfrepro.report import views
    from tfrepro.tasks import results

    if args.baseline_command != "save":
        raise UsageError("baseline needs an action: save FILE (see `tfrepro baseline --help`)")
    data = results.save_baseline(args.store, args.file, by=args.by)
    views.baseline_saved(console, data, args.by, args.file)
    return 0


def cmd_check(args: argparse.Namespace, console: Console) -> int:
    from tfrepro.report.compare_view import check_report
    from tfrepro.tasks import results

    if args.until_settled or args.round or args.max_seeds:
        from tfrepro.cli.settling import check_until_settled

        return check_until_settled(args, console)
    given = [
        what
        for what, value in (
            ("a spec", args.spec),
            ("--tf", args.tf),
            ("--seeds", args.seeds),
            ("a script after --", getattr(args, "script", None)),
        )
        if value is not None
    ]
    if given:
        raise UsageError(
            f"check compares the store's cells with the baseline and runs nothing, so "
            f"{given[0]} has no use here: add --until-settled to run it in rounds, or run it "
            f"first with `tfrepro run`"
        )
    result = results.check(
        args.baseline, args.store, margin=args.margin, group=args.group, alpha=args.alpha
    )
    if args.json:
        sys.stdout.write(
            json.dumps(
                {"outcome": result.outcome, "rows": result.rows, "failures": result.failures},
                indent=1,
            )
            + "\n"
        )
    else:
        check_report(console, result, str(args.baseline))
    return {"pass": 0, "different": 1}.get(result.outcome, 3)


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    from tfrepro.report import summary
    from tfrepro.tasks import results

    done = results.report(
        args.store,
        out=args.out,
        markdown=args.markdown,
        by=args.by,
        baseline=args.baseline,
        margin=args.margin,
        metrics=results.metric_list(args.metric),
        alpha=args.alpha,
    )
    summary.print_summary(console, done.data, html_path=str(done.html))
    return 0


def cmd_bisect(args: argparse.Namespace, console: Console) -> int:
    from tfrepro.report import views
    from tfrepro.report.progress import RichReporter
    from tfrepro.tasks import bisect, results, run

    if args.keras and not args.tf:
        raise UsageError("bisect --keras holds TensorFlow fixed: give it with --tf, e.g. --tf 2.18")
    if args.tf and not args.keras:
        raise UsageError("--tf applies to bisect --keras; without it --good/--bad are the releases")
    versions = [] if args.keras else bisect.candidates(args.good, args.bad)  # fails before output
    base = bisect.probe_spec(
        run.load_spec(args.spec, script_command(args)), args.criterion, args.seeds, args.max_seeds
    )
    out = console if not args.json else Console(stderr=True)
    kw = {"criterion": args.criterion, "metric": args.metric, "margin": args.margin}
    with RichReporter(out) as reporter:
        opts = run_options(args, "tfrepro bisect")
        if args.keras:
            result = bisect.bisect_keras(
                base, args.good, args.bad, args.tf, **kw, opts=opts, reporter=reporter,
                max_seeds=args.max_seeds,
            )  # fmt: skip
        else:
            result = bisect.bisect(
                base, versions, **kw, opts=opts, reporter=reporter, max_seeds=args.max_seeds
            )
    results.keep_bisect(args.store, result)  # `envs prune` keeps the envs it used
    if args.json:
        print_json(result.as_dict())
    else:
        views.bisect_result(console, result)
    return 0


COMMANDS = {
    "bisect": cmd_bisect,
    "explain": cmd_explain,
    "run": cmd_run,
    "demo": cmd_demo,
    "cells": cmd_cells,
    "compare": cmd_compare,
    "baseline": cmd_baseline,
    "check": cmd_check,
    "report": cmd_report,
    "versions": cmd_versions,
    "envs": cmd_envs,
}
