"""Benchmark `tfrepro run`: cell overhead vs a bare Keras script, and environment builds.
Every ratio is against a baseline measured in the same invocation (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import tfrepro
from tfrepro import datasets, process
from tfrepro import spec as spec_mod
from tfrepro.envs import provision
from tfrepro.envs.request import EnvRequest
from tfrepro.execute import cellrun
from tfrepro.plan import Cell
from tfrepro.tasks import planning
from tfrepro.tasks import run as workflow

BARE = Path(__file__).resolve().with_name("bare_keras.py")  # the baseline, a plain Keras script


class Quiet:
    """A workflow.Reporter that prints nothing and keeps the last cell's outcome."""

    outcome: cellrun.Outcome | None = None

    def planned(self, total: int, todo: int, envs: int) -> None: ...
    def env_started(self, env: EnvRequest, cached: bool) -> None: ...
    def env_done(self, env: EnvRequest, error: str | None) -> None: ...
    def cell_started(self, cell: Cell) -> None: ...
    def cell_done(self, cell: Cell, outcome: cellrun.Outcome) -> None:
        self.outcome = outcome


def _cpu() -> float:
    return sum(
        u.ru_utime + u.ru_stime
        for u in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    )


def measure(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds of this process and its waited-for children, fn's value)."""
    t0, c0 = time.perf_counter(), _cpu()
    out = fn()
    return time.perf_counter() - t0, _cpu() - c0, out


def summary(xs: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "runs": xs}


def run_library(spec_path: Path, store: Path) -> tuple[float, float, cellrun.Outcome]:
    """make_plan + execute in this process, into a fresh store (so that the cell really runs)."""
    opts, rep = planning.Options(store=store), Quiet()
    wall, cpu, _ = measure(
        lambda: workflow.execute(planning.make_plan(spec_mod.load(spec_path), opts), opts, rep)
    )
    if rep.outcome is None or rep.outcome.status != "ok":
        sys.exit(f"the tfrepro cell did not succeed: {rep.outcome and rep.outcome.reason}")
    return wall, cpu, rep.outcome


def run_child(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    wall, cpu, done = measure(lambda: subprocess.run(argv, capture_output=True, text=True, env=env))
    if done.returncode != 0:
        sys.exit(f"`{' '.join(argv[:4])} …` failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return wall, cpu, done.stdout


def bench_cell(args: argparse.Namespace, tmp: Path) -> tuple[dict[str, Any], Cell]:
    spec_path = tmp / "bench.toml"
    spec_path.write_text(
        f'name = "bench"\n[train]\nepochs = {args.epochs}\nbatch_size = 64\n'
        f'[matrix]\ntf = ["{args.tf}"]\nseeds = [0]\n'
    )
    spec = spec_mod.load(spec_path)
    cell = planning.make_plan(spec, planning.Options(store=tmp / "unused")).cells[0]
    data = datasets.prepare(spec.data, spec.data_path())
    np.savez(tmp / "data.npz", **data.arrays)
    cfg = {
        "data": str(tmp / "data.npz"),
        "threads": cell.knobs["threads"],
        "seed": cell.seed,
        "hidden": spec.model.hidden,
        "classes": data.n_classes,
        "lr": spec.train.learning_rate,
        "epochs": spec.train.epochs,
        "batch": spec.train.batch_size,
    }
    bare_env = {**cellrun.cell_environment(cell), "CUDA_VISIBLE_DEVICES": "-1"}
    print(f"warm-up: one tfrepro cell (builds {cell.env.name} if not cached)", flush=True)
    warm = run_library(spec_path, tmp / "store-warmup")[2]
    python = provision.ensure(cell.env, provision.envs_root()).python
    wall: dict[str, list[float]] = {"bare": [], "library": [], "cli": [], "subprocess": []}
    cpu: dict[str, list[float]] = {"bare": [], "library": [], "cli": []}
    guest: list[dict[str, float]] = []
    bare_t: list[dict[str, float]] = []
    load: list[float] = []  # 1-minute load average after each run: was the machine busy?

    def lib(i: int) -> tuple[str, float, float]:
        w, c, out = run_library(spec_path, tmp / f"store-lib-{i}")
        wall["subprocess"].append(out.wall_seconds)
        guest.append(out.result["timings"])
        return "library", w, c

    def cli(i: int) -> tuple[str, float, float]:
        w, c, _ = run_child(
            [
                sys.executable,
                "-m",
                "tfrepro",
                "run",
                str(spec_path),
                "--store",
                str(tmp / f"store-cli-{i}"),
            ]
        )
        return "cli", w, c

    def bare(i: int) -> tuple[str, float, float]:
        w, c, out = run_child([str(python), "-s", str(BARE), json.dumps(cfg)], bare_env)
        bare_t.append(json.loads(next(ln for ln in out.splitlines() if ln.startswith("BARE "))[5:]))
        return "bare", w, c

    variants = [lib, cli, bare]
    for i in range(args.repeats):
        print(f"cell round {i + 1}/{args.repeats}", flush=True)
        for fn in variants[i % 3 :] + variants[: i % 3]:  # interleaved, order rotated per round
            name, w, c = fn(i)
            wall[name].append(w)
            cpu[name].append(c)
            load.append(round(os.getloadavg()[0], 2))
    wm = {k: statistics.median(v) for k, v in wall.items()}
    cm = {k: statistics.median(v) for k, v in cpu.items()}
    g = {k: statistics.median(t[k] for t in guest) for k in guest[0]}
    b = {k: statistics.median(t[k] for t in bare_t) for k in bare_t[0]}
    fp = warm.result.get("fingerprint", {})
    return {
        "env": cell.env.name,
        **{k: fp.get(k) for k in ("tensorflow", "keras", "python")},
        "train": spec.train.model_dump(),
        "knobs": cell.knobs,
        "accuracy": {"tfrepro": warm.result["metrics"].get("accuracy"), "bare": b["accuracy"]},
        "wall": {k: summary(v) for k, v in wall.items()},
        "cpu": {k: summary(v) for k, v in cpu.items()},
        "wall_ratio_vs_bare": {k: wm[k] / wm["bare"] for k in wm},
        "cpu_ratio_vs_bare": {k: cm[k] / cm["bare"] for k in cm},
        "guest_timings": {"median": g, "runs": guest},
        "loadavg_1min": load,
        "bare_timings": {"median": b, "runs": bare_t},
        "import_share": {
            "tfrepro_subprocess": g["import"] / wm["subprocess"],
            "tfrepro_library": g["import"] / wm["library"],
            "bare": b["import"] / wm["bare"],
        },
    }, cell


def build_fresh(req: EnvRequest, uv_cache: Path | None = None) -> tuple[float, float, float]:
    """Build `req` into a new temporary tfrepro cache, deleted afterwards: (wall, cpu, MB of
    `uv_cache`). A given `uv_cache` replaces uv's own cache for the build."""
    root = Path(tempfile.mkdtemp(prefix="tfrepro-bench-envs-"))
    old = os.environ.get("UV_CACHE_DIR")
    if uv_cache is not None:
        os.environ["UV_CACHE_DIR"] = str(uv_cache)  # process.uv hands os.environ to uv
    try:
        wall, cpu, _ = measure(lambda: provision.ensure(req, provision.envs_root(root)))
        mb = sum(f.stat().st_size for f in uv_cache.rglob("*") if f.is_file()) if uv_cache else 0
        return wall, cpu, mb / 2**20
    finally:
        os.environ.pop("UV_CACHE_DIR", None)
        if old is not None:
            os.environ["UV_CACHE_DIR"] = old
        shutil.rmtree(root, ignore_errors=True)


def bench_builds(args: argparse.Namespace, req: EnvRequest) -> dict[str, Any]:
    runs: dict[str, list[tuple[float, float, float]]] = {
        "cached": [
            (*measure(lambda: provision.ensure(req, provision.envs_root()))[:2], 0.0)
            for _ in range(max(args.repeats, 3))
        ],
        "warm_uv_new_env": [],
    }
    for i in range(args.build_repeats):
        print(f"build: warm uv cache, new env {i + 1}/{args.build_repeats}", flush=True)
        runs["warm_uv_new_env"].append(build_fresh(req))
    if args.cold:
        print("build: cold, empty uv cache (downloads every wheel)", flush=True)
        with tempfile.TemporaryDirectory(prefix="tfrepro-bench-uvcache-") as uv_cache:
            runs["cold"] = [build_fresh(req, Path(uv_cache))]
    out: dict[str, Any] = {"env": req.name}
    for kind, rs in runs.items():
        out[kind] = {"wall": summary([r[0] for r in rs]), "cpu": summary([r[1] for r in rs])}
    if "cold" in runs:
        out["cold"]["uv_cache_mb"] = round(runs["cold"][0][2])
    base = out["cached"]["wall"]["median"]
    out["wall_ratio_vs_cached"] = {k: out[k]["wall"]["median"] / base for k in runs}
    return out


def table(res: dict[str, Any]) -> str:
    c, b = res["cell"], res["builds"]
    rows = [
        (
            f"cell: {name}",
            c["wall"][k]["median"],
            c["wall_ratio_vs_bare"][k],
            c["cpu"].get(k, {}).get("median"),
            c["cpu_ratio_vs_bare"].get(k),
        )
        for k, name in (
            ("bare", "bare Keras script (baseline)"),
            ("library", "tfrepro library (plan+execute)"),
            ("cli", "tfrepro CLI (new process)"),
            ("subprocess", "guest runner subprocess only"),
        )
    ]
    rows += [
        (
            f"env: {name}",
            b[k]["wall"]["median"],
            b["wall_ratio_vs_cached"][k],
            b[k]["cpu"]["median"],
            None,
        )
        for k, name in (
            ("cached", "cached (baseline)"),
            ("warm_uv_new_env", "warm uv cache, new env"),
            ("cold", "cold, empty uv cache"),
        )
        if k in b
    ]

    def sec(x: float | None) -> str:
        return "-" if x is None else f"{x:.2f}" if x >= 0.1 else f"{x:.1e}"

    def times(x: float | None) -> str:
        return "-" if x is None else f"{x:,.0f}x" if x >= 100 else f"{x:.2f}x"

    lines = [f"{'measurement':<38}{'wall s':>9}{'ratio':>10}{'CPU s':>9}{'ratio':>8}", "-" * 74]
    lines += [
        f"{name:<38}{sec(w):>9}{times(r):>10}{sec(c):>9}{times(cr):>8}"
        for name, w, r, c, cr in rows
    ]
    g, bt, share = c["guest_timings"]["median"], c["bare_timings"]["median"], c["import_share"]
    lines += [
        "-" * 74,
        f"import tensorflow: tfrepro {g['import']:.2f} s ({share['tfrepro_subprocess']:.0%}"
        f" of the runner subprocess, {share['tfrepro_library']:.0%} of the library cell), "
        f"bare {bt['import']:.2f} s ({share['bare']:.0%} of bare)",
        "guest runner timings (median s): " + ", ".join(f"{k} {v:.2f}" for k, v in g.items()),
        f"training: tfrepro fit {g['fit']:.2f} s (train_on_batch + evaluate per epoch), "
        f"bare model.fit {bt['fit']:.2f} s",
        f"1-min load average after each cell run: {c['loadavg_1min']}",
    ]
    if max(c["loadavg_1min"]) > (res["machine"]["cpus"] or 1) + 0.5:
        lines.append(
            "WARNING: the machine was busy: wall times are unreliable, read the CPU "
            "columns (or the `min` of the runs in the JSON)"
        )
    if "cold" in b:
        lines.append(f"cold build left {b['cold']['uv_cache_mb']} MB in its uv cache")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--tf", default="2.15", help="TensorFlow release for cells and builds (2.15)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3, help="interleaved cell repeats (>= 3)")
    p.add_argument("--build-repeats", type=int, default=1, help="warm-uv new-env builds (1)")
    p.add_argument(
        "--cold",
        action="store_true",
        help="also build with an empty uv cache (downloads several hundred MB from PyPI)",
    )
    p.add_argument("--out", type=Path, default=BARE.parent / "results" / "latest.json")
    args = p.parse_args()
    if args.repeats < 3:
        p.error("--repeats must be at least 3")
    res: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "tfrepro": tfrepro.__version__,
        "command": " ".join(sys.argv),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "host_python": platform.python_version(),
            "uv": process.uv(["--version"]).stdout.strip(),
        },
    }
    with tempfile.TemporaryDirectory(prefix="tfrepro-bench-") as tmp:
        res["cell"], cell = bench_cell(args, Path(tmp))
    res["builds"] = bench_builds(args, cell.env)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1) + "\n")
    print(f"{table(res)}\nresults: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
