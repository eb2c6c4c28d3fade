"""Benchmark script mode: `tfrepro run -- python train.py` against the same script run bare.

Both run the same `train.py` (a wider MLP on scikit-learn's digits, trained for a fixed number
of epochs: ≥ 30 s on 2 cores) with the *same environment's* python, from the same folder, with
TensorFlow's own thread default and no op determinism (the spec sets threads = 0 and
determinism = false, so the cell adds nothing that changes the training's speed). Rounds
alternate bare / tfrepro; the ratio of medians (and of each pair) is the overhead of script mode:
the runner, the hooks, the callback on every step, the copy of the folder, the store.

    python benchmarks/bench_script.py [--tf 2.15] [--epochs 30] [--repeats 3]
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
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

from tfrepro.envs import provision
from tfrepro.tasks import planning
from tfrepro.tasks import run as workflow

TRAIN = """
import sys
import numpy as np
import tensorflow as tf

epochs = int(sys.argv[1])
data = np.load("digits.npz")
x, y = data["x"] / 16.0, data["y"]
model = tf.keras.Sequential([
    tf.keras.layers.Input(shape=(64,)),
    tf.keras.layers.Dense(512, activation="relu"),
    tf.keras.layers.Dense(512, activation="relu"),
    tf.keras.layers.Dense(10, activation="softmax"),
])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x[:1400], y[:1400], batch_size=32, epochs=epochs, validation_split=0.1, verbose=0)
print(model.evaluate(x[1400:], y[1400:], verbose=0))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tf", default="2.15")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/script-latest.json"))
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-script-"))
    try:
        project = tmp / "project"
        project.mkdir()
        (project / "train.py").write_text(TRAIN)
        digits = load_digits()
        np.savez(project / "digits.npz", x=digits.data.astype("float32"), y=digits.target)
        spec_path = project / "bench.toml"
        spec_path.write_text(
            f'[script]\ncommand = ["python", "train.py", "{args.epochs}"]\n'
            f'[matrix]\ntf = ["{args.tf}"]\nseeds = [0]\n'
            f"[matrix.knobs]\nthreads = [0]\ndeterminism = [false]\n"
        )
        spec = workflow.load_spec(spec_path)
        planned = planning.make_plan(spec, planning.Options())
        env = provision.ensure(planned.cells[0].env, provision.envs_root(None))
        bare_env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "PYTHONPATH"))}
        bare_env.update(PYTHONHASHSEED="0", CUDA_VISIBLE_DEVICES="-1")

        def bare() -> float:
            t0 = time.perf_counter()
            subprocess.run(
                [str(env.python), "train.py", str(args.epochs)],
                cwd=project, env=bare_env, check=True, capture_output=True,
            )  # fmt: skip
            return time.perf_counter() - t0

        def tfrepro(i: int) -> float:
            store = tmp / f"store{i}"
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "tfrepro", "run", str(spec_path), "--store", str(store)],
                cwd=project, check=True, capture_output=True,
            )  # fmt: skip
            wall = time.perf_counter() - t0
            shutil.rmtree(store)
            return wall

        bare()  # warm-up: page cache, the environment's first import
        rows = []
        for i in range(args.repeats):
            a, b = (bare(), tfrepro(i)) if i % 2 == 0 else tuple(reversed((tfrepro(i), bare())))
            rows.append({"bare": round(a, 2), "tfrepro": round(b, 2), "ratio": round(b / a, 3)})
            print(f"round {i + 1}: bare {a:.1f} s, tfrepro {b:.1f} s, ratio {b / a:.3f}")
        med_a = statistics.median(r["bare"] for r in rows)
        med_b = statistics.median(r["tfrepro"] for r in rows)
        result = {
            "tf": args.tf,
            "epochs": args.epochs,
            "env": env.name,
            "rounds": rows,
            "median_bare_s": med_a,
            "median_tfrepro_s": med_b,
            "ratio_of_medians": round(med_b / med_a, 3),
            "median_pair_ratio": statistics.median(r["ratio"] for r in rows),
        }
        print(
            f"bare {med_a:.1f} s, tfrepro {med_b:.1f} s (medians of {args.repeats}): "
            f"script mode costs {100 * (med_b / med_a - 1):+.1f}% wall"
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
