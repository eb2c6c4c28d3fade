"""The `tfrepro` command: a thin list of subcommands. No logic lives here.

Errors raised on purpose (tfrepro.errors) are printed as one line and turned into the
exit code; argparse's own errors are made one line too.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console

from tfrepro import __version__
from tfrepro.errors import TfreproError, UsageError

DEMO_SPEC = Path(__file__).with_name("demo") / "demo.toml"
DEFAULT_STORE = Path(".tfrepro")  # the store commands use unless given --store


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _seeds(text: str) -> list[int]:
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
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def _probability(text: str) -> float:
    value = _positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def _parser() -> _Parser:
    p = _Parser(
        prog="tfrepro",
        description="Does your training change across TensorFlow releases? Measure it."
    )
    p.add_argument("--version", action="version", version=f"tfrepro {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def store_arg(sp: argparse.ArgumentParser) -> None:
        sp.add_argument(
            "--store", type=Path, default=DEFAULT_STORE,
            help="result store folder (default .tfrepro)"
        )

    def analysis_args(sp: argparse.ArgumentParser, by: bool = True) -> None:
        if by:
            sp.add_argument(
                "--by", default="tf_version",
                help="axis: tf_version (default), keras_version, python_version, attempt, a knob "
                     "(onednn, threads, …) or an environment variable of the matrix"
            )
        sp.add_argument(
            "--margin", type=_positive_float,
            help="equivalence margin in the metric's units (default: the spec's, else 1 noise "
                 "floor)"
        )
        sp.add_argument(
            "--alpha", type=_probability, default=0.05, help="test level (default 0.05)"
        )

    def run_args(sp: argparse.ArgumentParser, jobs: int = 1) -> None:
        store_arg(sp)
        sp.add_argument(
            "--tf", help="releases: 2.16 (latest patch), 2.16.1, ranges 2.12..2.16, comma separated"
        )
        sp.add_argument("--seeds", type=_seeds, help="seeds: 0,1,2 or 0..4")
        sp.add_argument(
            "--jobs", type=_positive_int, default=jobs,
            help=f"cells run in parallel (default {jobs})"
        )
        sp.add_argument(
            "--dry-run", action="store_true", help="list the cells without running anything"
        )
        sp.add_argument(
            "--rerun", action="store_true", help="run cells again even if the store has them"
        )
        sp.add_argument(
            "--retry-failed", action="store_true", help="run failed and timed-out cells again"
        )
        sp.add_argument(
            "--timeout", type=_positive_float, help="seconds per cell (overrides the spec)"
        )
        sp.add_argument("--python", help="interpreter to prefer for every release that supports it")
        sp.add_argument(
            "--cache", type=Path, help="environment cache folder (default ~/.cache/tfrepro)"
        )

    r = sub.add_parser("run", help="run an experiment across releases, seeds and knobs")
    r.add_argument(
        "spec", nargs="?", type=Path, help="experiment spec (TOML); default: built-in MLP on digits"
    )
    run_args(r)
    r.add_argument("--model", help="model: builtin:mlp|cnn|rnn or a .py file")
    r.add_argument(
        "--data", help="dataset: digits, breast_cancer, wine, iris, synthetic or a .npz file"
    )
    r.add_argument("--epochs", type=_positive_int, help="epochs (overrides the spec)")
    r.add_argument(
        "--resolution", choices=("era", "latest"), help="dependency resolution (default era)"
    )

    d = sub.add_parser("demo", help="the built-in experiment: 3 releases (Keras 2 and 3) × 3 seeds")
    run_args(d, jobs=2)

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
    x.add_argument("--jobs", type=_positive_int, default=2,
                   help="knob flips probed in parallel (default 2)")
    x.add_argument("--knobs", help="flip only these knobs, comma-separated (default: every one "
                   "that applies: onednn, legacy_keras, optimizer_impl, xla, threads)")
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
    bi.add_argument("--seeds", type=_seeds, help="seeds per probe (default 0; 0..4 for metric)")
    bi.add_argument("--max-seeds", type=_positive_int, default=20,
                    help="--criterion metric: add seeds up to this many when a probe is "
                    "inconclusive (default 20)")
    bi.add_argument("--json", action="store_true")
    bi.add_argument("--jobs", type=_positive_int, default=1)
    store_arg(bi)
    bi.add_argument("--cache", type=Path)
    bi.add_argument("--python")
    bi.add_argument("--timeout", type=_positive_float)

    v = sub.add_parser("versions", help="known TensorFlow releases and the Python each needs")
    v.add_argument("--json", action="store_true")
    v.add_argument(
        "--refresh", action="store_true", help="refresh the catalogue from the package index"
    )

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


def main(argv: list[str] | None = None) -> int:
    console = Console()
    err = Console(stderr=True)
    try:
        args = _parser().parse_args(argv)
        if args.command is None:
            _parser().print_help()
            return 2
        return int(COMMANDS[args.command](args, console) or 0)
    except TfreproError as exc:
        err.print(f"tfrepro: error: {exc}", highlight=False, markup=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("tfrepro: interrupted; finished cells are in the store, rerun to resume")
        return 130


# --- commands: each is load → act → render ----------------------------------------------------


def _options(args: argparse.Namespace, command: str) -> Any:
    from tfrepro.workflow import Options

    return Options(
        store=args.store, jobs=args.jobs, dry_run=args.dry_run, rerun=args.rerun,
        retry_failed=args.retry_failed, timeout=args.timeout, python=args.python,
        cache=args.cache, command=command,
    )


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if args.tf:
        out["matrix.tf"] = [t for t in args.tf.split(",") if t.strip()]
    if args.seeds is not None:
        out["matrix.seeds"] = args.seeds
    for flag, key in (("model", "model.source"), ("data", "data.name"), ("epochs", "train.epochs"),
                      ("resolution", "matrix.resolution")):
        if getattr(args, flag, None) is not None:
            out[key] = getattr(args, flag)
    return out


def _store_flag(store: Path) -> str:
    """What a suggested command needs to name this store: nothing for the default one."""
    return "" if store == DEFAULT_STORE else f" --store {store}"


def _run_spec(
    spec_path: Path | None, args: argparse.Namespace, console: Console, command: str
) -> int:
    from tfrepro import spec as spec_mod
    from tfrepro import workflow
    from tfrepro.envs.catalogue import version_key
    from tfrepro.report.progress import RichReporter
    from tfrepro.report.terminal import run_summary
    from tfrepro.store import Store

    overrides = _overrides(args)
    if spec_path is None:
        spec = spec_mod.from_dict(
            {}, origin="command line", base_dir=Path.cwd(), overrides=overrides
        )
    else:
        spec = spec_mod.load(spec_path, overrides)
    opts = _options(args, command)
    planned = workflow.make_plan(spec, opts)
    if opts.dry_run:
        for cell in planned.cells:
            console.print(f"{cell.id}  {cell.describe()}  [dim]{cell.env.name}[/]", highlight=False)
        console.print(f"{len(planned.cells)} cells (dry run: nothing was run)")
        return 0
    start = time.monotonic()
    with RichReporter(console) as reporter:
        ids = set(workflow.execute(planned, opts, reporter))
    store = Store(opts.store, create=False)
    cells = [c for c in store.cells(with_loss=False) if c["id"] in ids]
    store.close()
    run_summary(console, cells)
    flag = _store_flag(opts.store)
    console.print(f"store: {opts.store}  ({time.monotonic() - start:.0f} s)  — "
                  f"list with `tfrepro cells{flag}`", highlight=False, markup=False)
    releases = sorted({c["tf_version"] for c in cells}, key=version_key)
    if len(releases) > 1:
        hint = f"next: `tfrepro compare{flag}` (real or noise?), `tfrepro report{flag}` (HTML)"
        settings = {json.dumps([c.get("knobs"), c.get("env_vars"), c.get("keras_pin")],
                               sort_keys=True) for c in cells}
        # explain rebuilds one cell per release from the spec alone: only hint where that works
        if len(settings) == 1 and set(overrides) <= {"matrix.tf", "matrix.seeds"}:
            where = f" {spec_path}" if spec_path else ""
            hint += f", `tfrepro explain {releases[0]} {releases[-1]}{where}{flag}` (where, why)"
        console.print(hint, highlight=False, markup=False, soft_wrap=True)  # copy-pasteable
    return 0


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    return _run_spec(args.spec, args, console, "tfrepro run " + " ".join(sys.argv[2:]))


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    return _run_spec(DEMO_SPEC, _with_run_defaults(args), console, "tfrepro demo")


def _with_run_defaults(args: argparse.Namespace) -> argparse.Namespace:
    for name in ("model", "data", "epochs", "resolution"):
        setattr(args, name, getattr(args, name, None))
    return args


def cmd_cells(args: argparse.Namespace, console: Console) -> int:
    from tfrepro.report.terminal import cell_table
    from tfrepro.store import Store

    store = Store(args.store, create=False)
    cells = store.cells(all_attempts=args.all, with_loss=args.json)
    store.close()
    if args.json:
        sys.stdout.write(json.dumps(cells, indent=1, default=str) + "\n")
    else:
        cell_table(console, cells)
    return 0


def cmd_versions(args: argparse.Namespace, console: Console) -> int:
    from tfrepro.envs import catalogue, interpreters
    from tfrepro.errors import NoInterpreterError
    from tfrepro.report.terminal import versions_table

    cat = catalogue.refresh() if args.refresh else catalogue.load()
    available = interpreters.discover()
    host = f"{sys.version_info[0]}.{sys.version_info[1]}"
    rows = []
    for r in cat.releases:
        try:
            interp = interpreters.choose(r, available, host)
            found: str | None = f"{interp.version} ({interp.path})"
        except NoInterpreterError:
            found = None
        rows.append({"version": r.version, "package": r.package, "uploaded": r.uploaded,
                     "pythons": list(r.pythons), "interpreter": found})
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=1) + "\n")
    else:
        versions_table(console, rows, f"{cat.source}, fetched {cat.fetched}")
    return 0


def cmd_envs(args: argparse.Namespace, console: Console) -> int:
    from tfrepro.envs import provision

    action = args.envs_command
    if action is None:
        raise UsageError("envs needs an action: list, build or prune (see `tfrepro envs --help`)")
    root = provision.envs_root(args.cache)
    if action == "list":
        rows = [
            {"name": env.name, "path": str(env.path), "versions": env.versions,
             "size_mb": round(size / 2**20),
             "last_used": time.strftime("%Y-%m-%d %H:%M", time.localtime(used)),
             "build_seconds": env.build_seconds}
            for env, size, used in provision.list_envs(root)
        ]
        if args.json:
            sys.stdout.write(json.dumps(rows, indent=1) + "\n")
        else:
            for r in rows:
                v = r["versions"]
                console.print(f"{r['name']:<45} TF {v.get('tensorflow')} Keras "
                              f"{v.get('keras') or v.get('tf_keras') or 'tf.keras'} "
                              f"numpy {v.get('numpy')} "
                              f"{r['size_mb']} MB, last used {r['last_used']}", highlight=False)
            console.print(f"{len(rows)} environment(s) in {root}")
        return 0
    if action == "prune":
        if not args.all and args.older_than is None:
            raise UsageError("envs prune needs --older-than DAYS or --all")
        removed = provision.prune(root, older_than_days=args.older_than, everything=args.all)
        for name in removed:
            console.print(f"removed {name}")
        console.print(f"{len(removed)} removed from {root}")
        return 0
    return _envs_build(args, console, root)


def _envs_build(args: argparse.Namespace, console: Console, root: Path) -> int:
    from tfrepro.envs import catalogue, interpreters, provision
    from tfrepro.plan import env_request

    cat = catalogue.load()
    available = interpreters.discover()
    forced = interpreters.explicit(args.python) if args.python else None
    if forced:
        available = {**available, forced.minor: forced}
    preferred = forced.minor if forced else f"{sys.version_info[0]}.{sys.version_info[1]}"
    releases = {r.version: r for t in args.tf.split(",") if t.strip() for r in cat.resolve(t)}
    for release in releases.values():
        interp = interpreters.choose(release, available, preferred)
        req = env_request(cat, release, interp, args.resolution, keras=None,
                          legacy_keras=args.legacy_keras, device="cpu", requirements=())
        start = time.monotonic()
        with console.status(f"building TF {release.version} on Python {interp.version}"):
            env = provision.ensure(req, root)
        console.print(f"{env.name}: TF {env.versions.get('tensorflow')}, "
                      f"numpy {env.versions.get('numpy')}"
                      f" ({time.monotonic() - start:.1f} s)", highlight=False)
    return 0


def cmd_explain(args: argparse.Namespace, console: Console) -> int:
    from tfrepro import bisection, explain
    from tfrepro.report.explain_view import render
    from tfrepro.store import Store
    from tfrepro.workflow import Options

    if args.seed < 0:
        raise UsageError(f"--seed must be non-negative, got {args.seed}")
    knobs = None
    if args.knobs is not None:
        knobs = [k.strip() for k in args.knobs.split(",") if k.strip()]
        unknown = [k for k in knobs if k not in explain.ABLATION_KNOBS]
        if unknown or not knobs:
            raise UsageError(f"--knobs: {', '.join(unknown) or 'nothing'} is not a knob explain "
                             f"can flip; choose from {', '.join(explain.ABLATION_KNOBS)}")
    base = bisection.spec_or_default(args.spec)
    opts = Options(store=args.store, python=args.python, cache=args.cache, timeout=args.timeout,
                   jobs=args.jobs)
    err = Console(stderr=True)
    with err.status("explaining") as status:
        result = explain.explain(base, args.a, args.b, seed=args.seed, steps=args.steps,
                                 opts=opts, ablate=not args.no_ablation, knobs=knobs,
                                 progress=lambda msg: status.update(msg))
    store = Store(args.store)
    try:
        store.put_explanation(result)
    finally:
        store.close()
    if args.json:
        sys.stdout.write(json.dumps(result, indent=1, default=str) + "\n")
    else:
        render(console, result)
    flag = _store_flag(args.store)
    (err if args.json else console).print(
        f"saved in {args.store}: `tfrepro report{flag}` shows it under \"Where and why\"",
        highlight=False, markup=False)
    return 0


def cmd_compare(args: argparse.Namespace, console: Console) -> int:
    from tfrepro.analysis import compare, load
    from tfrepro.report.compare_view import compare_table, pair_notes, verdict_notes
    from tfrepro.store import Store

    store = Store(args.store, create=False)
    cells = load.cells(store, args.by)
    margin = args.margin if args.margin is not None else load.spec_margin(store, cells)
    store.close()
    metrics = [m.strip() for arg in args.metric or [] for m in arg.split(",") if m.strip()]
    rows = compare.compare_cells(
        cells, by=args.by, metrics=metrics or None, margin=margin, baseline=args.baseline,
        alpha=args.alpha, predictions=load.predictions(cells), labels=load.labels(cells),
    )
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=1) + "\n")
        return 0
    if not rows:
        console.print(f"nothing to compare: the ok cells have fewer than two values of "
                      f"{args.by} (group by another axis with --by)", highlight=False)
        return 0
    compare_table(console, rows, title=f"{len(cells)} cell(s) compared by {args.by}")
    pair_notes(console, rows)
    verdict_notes(console, rows)
    return 0


def cmd_baseline(args: argparse.Namespace, console: Console) -> int:
    from tfrepro.analysis import baseline, load
    from tfrepro.store import Store

    if args.baseline_command != "save":
        raise UsageError("baseline needs an action: save FILE (see `tfrepro baseline --help`)")
    store = Store(args.store, create=False)
    cells = store.cells(with_loss=False)
    margin = load.spec_margin(store, cells)
    store.close()
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    data = baseline.make(cells, by=args.by, margin=margin, created=created, version=__version__)
    load.write_baseline(args.file, data)
    n = sum(g["n_ok"] for g in data["groups"])
    console.print(f"baseline: {n} ok cell(s) in {len(data['groups'])} group(s) by {args.by} "
                  f"written to {args.file}; check later with `tfrepro check --baseline "
                  f"{args.file}`", highlight=False)
    return 0


def cmd_check(args: argparse.Namespace, console: Console) -> int:
    from tfrepro.analysis import baseline, load
    from tfrepro.errors import StoreError
    from tfrepro.report.compare_view import check_report
    from tfrepro.store import Store

    data = baseline.validate(load.read_baseline(args.baseline), str(args.baseline))
    try:  # exit 1 means "different" here, so a missing store is a usage error (2)
        store = Store(args.store, create=False)
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    cells = store.cells(with_loss=False)
    store.close()
    result = baseline.check(data, cells, margin=args.margin, group=args.group, alpha=args.alpha)
    if args.json:
        sys.stdout.write(json.dumps({"outcome": result.outcome, "rows": result.rows,
                                     "failures": result.failures}, indent=1) + "\n")
    else:
        check_report(console, result, str(args.baseline))
    return {"pass": 0, "different": 1}.get(result.outcome, 3)


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    from tfrepro.report import collect, html, summary
    from tfrepro.store import Store

    store = Store(args.store, create=False)
    metrics = [m.strip() for arg in args.metric or [] for m in arg.split(",") if m.strip()]
    try:
        data = collect.collect(store, by=args.by, baseline=args.baseline, margin=args.margin,
                               metrics=metrics or None, alpha=args.alpha)
    finally:
        store.close()
    path = html.write(data, args.out)
    if args.markdown:
        summary.write_markdown(data, args.markdown, html_name=path.name)
    summary.print_summary(console, data, html_path=str(path))
    return 0


def cmd_bisect(args: argparse.Namespace, console: Console) -> int:
    from tfrepro import bisection
    from tfrepro.report.progress import RichReporter
    from tfrepro.report.terminal import probe_detail
    from tfrepro.workflow import Options

    versions = bisection.candidates(args.good, args.bad)  # fails before anything is shown
    base = bisection.spec_or_default(args.spec)
    seeds = args.seeds or ([0] if args.criterion == "bitwise" else list(range(5)))
    if args.max_seeds < len(seeds):
        raise UsageError(f"--max-seeds {args.max_seeds} is fewer than the {len(seeds)} seeds "
                         "given: raise --max-seeds or pass fewer --seeds")
    base = bisection.with_matrix(base, seeds=seeds)
    opts = Options(store=args.store, jobs=args.jobs, python=args.python, cache=args.cache,
                   timeout=args.timeout, command="tfrepro bisect")
    out = console if not args.json else Console(stderr=True)
    with RichReporter(out) as reporter:
        result = bisection.bisect(base, versions, criterion=args.criterion,
                                  metric=args.metric, margin=args.margin, opts=opts,
                                  reporter=reporter, max_seeds=args.max_seeds)
    if args.json:
        sys.stdout.write(json.dumps(result, indent=1, default=str) + "\n")
        return 0
    for p in result["probes"]:
        console.print(f"probe {p['release']:<8} {p['verdict']:<12} {probe_detail(p)}",
                      highlight=False, markup=False)
    if result["status"] == "found":
        console.print(f"\n[bold]first release that changes: {result['first_bad']}[/] "
                      f"(last like {result['good']}: {result['last_good']}); "
                      f"{len(result['probes'])} probes of {result['candidates'] - 1} candidates "
                      f"(bound {result['max_probes']})")
        for n in result.get("release_notes", []):
            console.print(f"  release note {n['release']} ({n['component']}): {n['text']}",
                          highlight=False, soft_wrap=True)
    else:
        console.print(f"\n[bold]{result['status']}[/]: still open between "
                      f"{result['open_interval']}", highlight=False)
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
