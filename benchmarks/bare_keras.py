"""The baseline for bench_run.py: the built-in MLP cell's training as a bare Keras script.

Run with an environment's own python: `python bare_keras.py '{"data": "digits.npz", ...}'`
(the JSON keys are those bench_run.py passes). Prints one line `BARE {json timings}`.
Kept compatible with TF 1.15 / Python 3.7 so that any cached environment can run it.
"""

import json
import sys
import time

import numpy as np  # imported before the clock starts, as in tfrepro's runner

t_start = time.time()
cfg = json.loads(sys.argv[1])
import tensorflow as tf  # noqa: E402  (the import is what we time)

t_import = time.time() - t_start
# the same knobs as tfrepro's defaults: threads=1, op determinism, seeded
tf.config.threading.set_intra_op_parallelism_threads(cfg["threads"])
tf.config.threading.set_inter_op_parallelism_threads(cfg["threads"])
if hasattr(tf.config.experimental, "enable_op_determinism"):
    tf.config.experimental.enable_op_determinism()
(getattr(tf.random, "set_seed", None) or tf.compat.v1.set_random_seed)(cfg["seed"])

d = np.load(cfg["data"])
k = tf.keras
inp = k.Input(shape=d["x_train"].shape[1:])
x = k.layers.Dense(cfg["hidden"], activation="relu")(inp)
model = k.Model(inp, k.layers.Dense(cfg["classes"], activation="softmax")(x))
model.compile(
    optimizer=k.optimizers.Adam(learning_rate=cfg["lr"]),
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
)
t0 = time.time()
model.fit(d["x_train"], d["y_train"], epochs=cfg["epochs"], batch_size=cfg["batch"], verbose=0)
t_fit = time.time() - t0
loss, acc = model.evaluate(d["x_test"], d["y_test"], batch_size=cfg["batch"], verbose=0)
print(
    "BARE "
    + json.dumps(
        {"import": t_import, "fit": t_fit, "accuracy": float(acc), "total": time.time() - t_start}
    )
)
