"""Benchmark a whole matrix (releases x seeds, the demo's MLP on digits) end to end: tfrepro
with its environments cached (warm workers, and `--fresh` processes) against nox running the
same training as a bare Keras script (bare_keras.py, one process per seed) in virtualenvs it
reuses (`-r`: pip still checks the install; `-R`: no install step) — and, with --nox-fresh, nox
creating its virtualenvs anew with pip (timed once, before the rounds).

Every variant runs once per round, the order rotated between rounds; ratios are of medians
measured in this one invocation. Also reported, from the cells' own records: what a cell costs
above its training (wall - fit) in a fresh process, as a warm worker's first cell (its import
is paid before) and as a later cell of the same worker (an extra seed).

    python benchmarks/bench_matrix.py [--tf 2.12,2.15,2.16] [--seeds 0,1,2] [--jobs 2]
                                      [--repeats 3] [--nox-fresh] [--ray-address HOST:PORT]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np

from tfrepro import datasets
from tfrepro import spec as spec_mod
from tfrepro.tasks import planning

ROOT = Path(__file__).resolve().parents[1]
BARE = ROOT / "benchmarks" / "bare_keras.py"

NOXFILE = textwrap.dedent(
    """
    import json
    import nox

    CONFIG = json.loads({config!r})

    @nox.session(python=CONFIG["python"], venv_backend="venv")
    @nox.parametrize("tf", CONFIG["releases"])
    def train(session, tf):
        session.install("tensorflow-cpu==" + tf)
        for seed in CONFIG["seeds"]:
            session.run("python", "-s", CONFIG["bare"], json.dumps(dict(CONFIG["cfg"], seed=seed)),
                        env={{"CUDA_VISIBLE_DEVICES": "-1", "PYTHONHASHSEED": "0"}})
    """
)


def timed(argv: list[str], cwd: Path) -> float:
    start = time.monotonic()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    wall = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return wall


def cells(store: Path, cwd: Path) -> list[dict[str, Any]]:
    argv = [sys.executable, "-m", "tfrepro", "cells", "--store", str(store), "--json"]
    out = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def overhead(records: list[dict[str, Any]]) -> dict[str, list[float]]:
    """wall - fit per cell, by how it ran."""
    out: dict[str, list[float]] = {"fresh": [], "warm first cell": [], "warm later cell": []}
    for c in records:
        above = c["wall_seconds"] - c["timings"]["fit"]
        worker = c.get("worker") or {}
        if worker.get("mode") != "warm":
            out["fresh"].append(above)
        else:
            out["warm first cell" if worker.get("cell") == 1 else "warm later cell"].append(above)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tf", default="2.12,2.15,2.16")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--nox-fresh", action="store_true", help="also time nox creating its venvs")
    ap.add_argument("--ray-address", help="also time `--executor ray` on this Ray cluster")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/matrix.json")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tfrepro-bench-matrix-"))
    try:
        return bench(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # nox's venvs: ~1 GB each


def bench(args: argparse.Namespace, tmp: Path) -> int:
    seeds = [int(s) for s in args.seeds.split(",")]
    (tmp / "bench.toml").write_text(
        f'name = "bench-matrix"\n[train]\nepochs = {args.epochs}\nbatch_size = 64\n'
        f"[matrix]\ntf = {json.dumps(args.tf.split(','))}\nseeds = {json.dumps(seeds)}\n"
    )
    spec = spec_mod.load(tmp / "bench.toml")
    plan = planning.make_plan(spec, planning.Options(store=tmp / "unused"))
    releases = sorted({c.tf_version for c in plan.cells})
    pythons = {c.env.python_version.rsplit(".", 1)[0] for c in plan.cells}
    if len(pythons) != 1:
        raise SystemExit(f"the releases need different Pythons ({pythons}): nox here uses one")
    data = datasets.prepare(spec.data, spec.data_path())
    np.savez(tmp / "data.npz", **data.arrays)
    cfg = {"data": str(tmp / "data.npz"), "threads": 1, "hidden": spec.model.hidden,
           "classes": data.n_classes, "lr": spec.train.learning_rate,
           "epochs": spec.train.epochs, "batch": spec.train.batch_size}  # fmt: skip
    config = {"python": pythons.pop(), "releases": releases, "seeds": seeds, "bare": str(BARE),
              "cfg": cfg}  # fmt: skip
    (tmp / "noxfile.py").write_text(NOXFILE.format(config=json.dumps(config)))
    nox = [sys.executable, "-m", "nox", "-f", str(tmp / "noxfile.py"), "--envdir",
           str(tmp / ".nox")]  # fmt: skip
    print(f"environments: tfrepro envs build --tf {','.join(releases)}", flush=True)
    subprocess.run([sys.executable, "-m", "tfrepro", "envs", "build", "--tf", ",".join(releases)],
                   check=True, capture_output=True)  # fmt: skip
    print("nox creating its virtualenvs with pip" + (" (timed)" if args.nox_fresh else ""),
          flush=True)  # fmt: skip
    nox_fresh = timed(nox, tmp)

    n = [0]

    def tfrepro(*extra: str) -> list[str]:
        n[0] += 1
        return [sys.executable, "-m", "tfrepro", "run", "bench.toml", "--jobs", str(args.jobs),
                "--store", f"store-{n[0]}", *extra]  # fmt: skip

    variants = {
        "tfrepro (warm workers)": lambda: tfrepro(),
        "tfrepro --fresh": lambda: tfrepro("--fresh"),
        "tfrepro --jobs 1": lambda: tfrepro("--jobs", "1"),
        "nox -r (reuse venvs)": lambda: [*nox, "-r"],
        "nox -R (reuse, no install)": lambda: [*nox, "-R"],
    }
    if args.ray_address:
        variants["tfrepro --executor ray"] = lambda: tfrepro(
            "--executor", "ray", "--address", args.ray_address
        )
    wall: dict[str, list[float]] = {k: [] for k in variants}
    stores: dict[str, list[str]] = {k: [] for k in variants}
    names = list(variants)
    for i in range(args.repeats):
        print(f"round {i + 1}/{args.repeats}", flush=True)
        for name in names[i % len(names) :] + names[: i % len(names)]:
            argv = variants[name]()
            wall[name].append(timed(argv, tmp))
            if "--store" in argv:
                stores[name].append(argv[argv.index("--store") + 1])
            print(f"  {name}: {wall[name][-1]:.1f} s", flush=True)
    med = {k: statistics.median(v) for k, v in wall.items()}
    over: dict[str, list[float]] = {}
    for name in ("tfrepro (warm workers)", "tfrepro --fresh"):
        for store in stores[name]:
            for kind, xs in overhead(cells(tmp / store, tmp)).items():
                over.setdefault(kind, []).extend(xs)
    result = {
        "matrix": {"releases": releases, "seeds": seeds, "epochs": args.epochs, "jobs": args.jobs},
        "cpus": os.cpu_count(),
        "wall": wall,
        "median": med,
        "ratio_vs_nox_reuse": {k: med[k] / med["nox -r (reuse venvs)"] for k in med},
        "ratio_vs_nox_reuse_no_install": {
            k: med[k] / med["nox -R (reuse, no install)"] for k in med
        },
        "nox_fresh_venvs": nox_fresh if args.nox_fresh else None,
        "ratio_warm_vs_nox_fresh": med["tfrepro (warm workers)"] / nox_fresh
        if args.nox_fresh
        else None,
        "cells_per_minute": {k: len(releases) * len(seeds) * 60 / med[k] for k in med},
        "above_training_seconds": {
            k: {"median": statistics.median(v), "n": len(v)} for k, v in over.items() if v
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: result[k] for k in result if k != "wall"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
