"""What `tfrepro explain` costs: its wall time against one TensorFlow import per environment.

    python benchmarks/bench_explain.py [--a 2.9] [--b 2.15] [--ablation]

Environments are built (or found in the cache) before timing starts. The baseline, measured in
the same run, is the floor any cross-environment comparison pays: importing TensorFlow once
in A's environment and once in B's.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from tfrepro import spec as spec_mod
from tfrepro.tasks import explain
from tfrepro.tasks.planning import Options


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", default="2.9")
    parser.add_argument("--b", default="2.15")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--ablation", action="store_true", help="include the knob flips")
    parser.add_argument("--jobs", type=int, default=2, help="flips probed at once (CLI default)")
    parser.add_argument("--fresh", action="store_true", help="every probe in its own process")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/explain.json"))
    args = parser.parse_args()
    base = spec_mod.from_dict({}, base_dir=Path.cwd())
    with tempfile.TemporaryDirectory() as tmp:
        opts = Options(store=Path(tmp) / "store", jobs=args.jobs, warm=not args.fresh)
        # warm-up: builds the environments if needed (not timed)
        explain.explain(base, args.a, args.b, seed=0, steps=2, opts=opts, ablate=False)
        start = time.monotonic()
        result = explain.explain(
            base, args.a, args.b, seed=0, steps=args.steps, opts=opts, ablate=args.ablation
        )
        wall = time.monotonic() - start
    by_probe = {t["probe"]: t for t in result.probe_timings}
    # in a warm worker the probe's own import is ~0: the worker's one import is the floor's
    floor = sum(
        max(by_probe[p].get("import") or 0.0, by_probe[p].get("worker_import") or 0.0)
        for p in ("A", "B")
    )
    # the floor: one import per environment plus what the probes themselves do in
    # the runner (build, steps, stage measurements), without any process or import overhead
    work = sum(max((t.get("total") or 0.0) - (t.get("import") or 0.0), 0.0)
               for t in result.probe_timings)  # fmt: skip
    figures = {
        "fresh": args.fresh,
        "probe_work_s": round(work, 2),
        "ratio_vs_imports_plus_probe_work": round(wall / (floor + work), 2),
        "a": args.a,
        "b": args.b,
        "steps": args.steps,
        "ablation": args.ablation,
        "jobs": args.jobs,
        "probes": result.probes,
        "explain_wall_s": round(wall, 2),
        "tf_imports_s": round(floor, 2),
        "ratio_vs_two_imports": round(wall / floor, 2),
        "per_probe": result.probe_timings,
        "first_divergence": result.first_divergence,
    }
    print(
        f"explain {args.a} vs {args.b}: {wall:.1f} s for {result.probes} probes; "
        f"one TF import per environment: {floor:.1f} s; ratio {wall / floor:.2f}; "
        f"the probes' own work {work:.1f} s; ratio to imports + work "
        f"{figures['ratio_vs_imports_plus_probe_work']:.2f}"
    )
    for t in result.probe_timings:
        print(f"  {t['probe']:<24} wall {t['wall']:5.1f} s  import {t.get('import', 0):4.1f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
