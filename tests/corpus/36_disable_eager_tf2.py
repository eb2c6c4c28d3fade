"""A TF 2 script that switches eager execution off "for speed" and then uses tf.keras.

Pattern: tf.compat.v1.disable_eager_execution() at the top of a TF 2.x script
(a common speed-up tip for older TF 2 releases, and a leftover of TF 1 ports),
after which a normal tf.keras Sequential model is compiled and fit() in graph
mode (Keras 2 then uses its v1 graph training loop), with validation data and
a K.get_value(model.optimizer.learning_rate) read at the end. The optimizer is
the string "adam": with an Adam(...) object instead, 2.15 fails with
AttributeError: 'Adam' object has no attribute 'get_updates' (the 2.11+
optimizers have no graph-mode path; the string silently picks the legacy one). Works on TF 1.15
as well, where the call exists under tf.compat.v1 and eager is off anyway.
Style: in the style of StackOverflow answers/blog posts recommending
`tf.compat.v1.disable_eager_execution()` to make Keras fit faster on TF 2.0-2.4,
kept in scripts ever since. Seeds with np.random.seed and the release's TF seed call.

releases: 1.15, 2.0, 2.1, 2.2, 2.3, 2.15
deterministic: yes
breaks: 2.16, 2.21 (RuntimeError: `tf.data.Dataset` only supports Python-style iteration in eager mode or within tf.function. -- Keras 3 has no graph-mode fit)
"""
import json
import os

import numpy as np
import tensorflow as tf

tf.compat.v1.disable_eager_execution()
np.random.seed(36)
tf.compat.v1.set_random_seed(36)
print("eager:", tf.executing_eagerly())

d = np.load(os.path.join(os.path.dirname(__file__), "data", "digits.npz"))
x = d["x"].reshape(-1, 64).astype("float32") / 16.0
y = d["y"]

model = tf.keras.models.Sequential([
    tf.keras.layers.Dense(64, activation="relu", input_shape=(64,)),
    tf.keras.layers.Dropout(0.2),
    tf.keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam",
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(x[:1400], y[:1400], epochs=3, batch_size=32,
                    validation_data=(x[1400:], y[1400:]), verbose=2)
loss, acc = model.evaluate(x[1400:], y[1400:], verbose=0)
lr = tf.keras.backend.get_value(model.optimizer.learning_rate)
acc_key = "accuracy" if "accuracy" in history.history else "acc"

print("RESULT", json.dumps({
    "train_loss": float(history.history["loss"][-1]),
    "train_accuracy": float(history.history[acc_key][-1]),
    "test_loss": float(loss),
    "test_accuracy": float(acc),
    "lr": float(lr),
}))
