"""How long the analysis behind `tfrepro compare` / `report` takes on a large store.

Synthetic cells shaped like `Store.cells()` output (default: 5 releases x 20 seeds = 100 cells,
10,000 per-step losses each, two final metrics, test predictions 450 x 10 with labels), then
`compare_cells` (every pair, churn, per-class shifts, trajectories of matching seeds) and
`group_summary` (loss band per group) are timed together. Target: under one second.

    python benchmarks/bench_analysis.py [--releases 5] [--seeds 20] [--steps 10000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np

from tfrepro.analysis.compare import compare_cells
from tfrepro.analysis.groups import group_summary

RELEASES = ["1.15.5", "2.9.3", "2.15.1", "2.16.2", "2.21.0", "2.12.1", "2.13.1", "2.14.1"]


def make_cells(
    releases: int, seeds: int, steps: int, examples: int, classes: int, rng: np.random.Generator
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray], dict[str, np.ndarray]]:
    labels = rng.integers(0, classes, examples)
    cells, predictions = [], {}
    curve = 2.3 * np.exp(-np.arange(steps) / (steps / 5)) + 0.1
    for r in range(releases):
        for seed in range(seeds):
            cid = f"c{r}-{seed}"
            loss = curve + rng.normal(0, 0.05, steps)
            loss[rng.integers(0, steps)] = np.nan  # a stored null now and then
            acc = float(rng.normal(0.9, 0.01))
            cells.append(
                {
                    "id": cid,
                    "attempt": 1,
                    "experiment": "e",
                    "tf_version": RELEASES[r],
                    "keras_version": "k",
                    "python_version": "3.11",
                    "keras_pin": None,
                    "seed": seed,
                    "knobs": {"threads": 1},
                    "env_vars": {},
                    "status": "ok",
                    "data_sha256": "d",
                    "init_weights_sha256": f"i{seed}",
                    "final_weights_sha256": f"f{r}-{seed}",
                    "metrics": {"accuracy": acc, "loss": float(rng.normal(0.3, 0.02))},
                    # as the store returns them: Python floats, None for NaN
                    "loss": [None if np.isnan(x) else float(x) for x in loss],
                }
            )
            noisy = np.eye(classes)[labels] + rng.random((examples, classes)) * 1.2
            predictions[cid] = noisy
    return cells, predictions, {"d": labels}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--releases", type=int, default=5)
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--examples", type=int, default=450)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()

    rng = np.random.default_rng(0)
    cells, predictions, labels = make_cells(
        args.releases, args.seeds, args.steps, args.examples, 10, rng
    )
    times, rows = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        rows = compare_cells(cells, predictions=predictions, labels=labels)
        group_summary(cells)
        times.append(time.perf_counter() - start)
    n_pairs = len({(r["a"], r["b"]) for r in rows})
    print(
        f"{len(cells)} cells × {args.steps} steps, {n_pairs} pairs × 2 metrics = {len(rows)} "
        f"verdicts (compare_cells + group_summary)"
    )
    print(
        f"first run {times[0]:.3f} s, median of {len(times)} {statistics.median(times):.3f} s, "
        f"min {min(times):.3f} s  (target < 1 s)"
    )


if __name__ == "__main__":
    main()
