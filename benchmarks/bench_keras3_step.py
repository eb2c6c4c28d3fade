"""Benchmark the built-in loop's Keras 3 step: tfrepro's step (one tf.function around the
model's train_step) against Keras' own train_on_batch, and built-in training on Keras 3 against
Keras 2 for the same model.

Part 1, per Keras 3 release: the equivalence fixture (tests/fixtures/guest/
keras3_step_equivalence.py) trains an MLP and a CNN (Dropout, BatchNormalization) both ways in one
process, interleaved, and reports ms per step of each (and that they are bitwise equal).
Part 2: the demo's MLP cells (`tfrepro run`, 3 seeds) on a Keras 2 and a Keras 3 release; the
ratio of the median `fit` timings (training only, TensorFlow import excluded).

    python benchmarks/bench_keras3_step.py [--keras2 2.15] [--keras3 2.16,2.21] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "guest" / "keras3_step_equivalence.py"
RUNNER = ROOT / "src" / "tfrepro" / "runner"
DEMO = ROOT / "src" / "tfrepro" / "demo" / "demo.toml"


def tfrepro(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "tfrepro", *args], capture_output=True,
                          text=True, check=True)  # fmt: skip
    return done.stdout


def env_python(release: str) -> Path:
    tfrepro("envs", "build", "--tf", release)
    envs = [e for e in json.loads(tfrepro("envs", "list", "--json"))
            if e["versions"]["tensorflow"].startswith(release + ".")]  # fmt: skip
    env = max(envs, key=lambda e: [int(p) for p in e["versions"]["tensorflow"].split(".")])
    return Path(env["path"]) / "bin" / "python"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keras2", default="2.15")
    ap.add_argument("--keras3", default="2.16,2.21")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/keras3-step.json")
    args = ap.parse_args()
    out: dict = {"step": {}, "builtin_fit": {}}
    for release in args.keras3.split(","):
        python = env_python(release)
        runs = []
        for _ in range(args.repeats):
            argv = [str(python), str(FIXTURE), str(RUNNER)]
            cpu = {"CUDA_VISIBLE_DEVICES": "-1"}
            done = subprocess.run(argv, capture_output=True, text=True, check=True, env=cpu)
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        row = {}
        for model in ("mlp", "cnn"):
            slow = statistics.median(r[model]["ms_train_on_batch"] for r in runs)
            fast = statistics.median(r[model]["ms_fast"] for r in runs)
            equal = all(r[model]["losses_equal"] and r[model]["weights_equal"] for r in runs)
            row[model] = {"ms_train_on_batch": slow, "ms_tfrepro": fast,
                          "ratio": round(fast / slow, 4), "bitwise_equal": equal}  # fmt: skip
            print(
                f"{release} {model}: train_on_batch {slow:.2f} ms/step, tfrepro step "
                f"{fast:.2f} ms/step (ratio {fast / slow:.3f}), bitwise equal: {equal}"
            )
        out["step"][release] = row
    with tempfile.TemporaryDirectory() as tmp:
        releases = [args.keras2, args.keras3.split(",")[0]]
        tfrepro("run", str(DEMO), "--tf", ",".join(releases), "--seeds", "0..2",
                "--store", str(Path(tmp) / "st"))  # fmt: skip
        cells = json.loads(tfrepro("cells", "--store", str(Path(tmp) / "st"), "--json"))
    fits = {}
    for release in releases:
        fits[release] = statistics.median(
            c["timings"]["fit"] for c in cells if c["tf_version"].startswith(release + ".")
        )
    ratio = fits[releases[1]] / fits[releases[0]]
    out["builtin_fit"] = {"seconds": fits, "keras3_over_keras2": round(ratio, 3)}
    print(
        f"built-in fit of the demo MLP: {releases[0]} {fits[releases[0]]:.2f} s, "
        f"{releases[1]} {fits[releases[1]]:.2f} s (Keras 3 / Keras 2 = {ratio:.2f})"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
