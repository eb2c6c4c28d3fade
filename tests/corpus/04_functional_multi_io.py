"""Functional API model with two inputs and two outputs, weighted losses.

Pattern: functional multi-input / multi-output model compiled with dicts of
losses, loss_weights and metrics keyed by output layer name, fed with dicts of
numpy arrays. Inputs: the 8x8 digit image and a small "metadata" vector (row
and column ink sums); outputs: the digit class (softmax) and whether the digit
is >= 5 (sigmoid).
Style: in the style of keras-io's functional API guide
("Models with multiple inputs and outputs"), with tf.keras. Does not seed itself.

releases: 2.15, 2.16, 2.21
deterministic: yes
"""
import json
import os

import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "digits.npz")
digits = np.load(DATA)
images = digits["x"].astype("float32")[..., np.newaxis] / 16.0
target = digits["y"]
meta = np.concatenate([images.sum(axis=1)[..., 0], images.sum(axis=2)[..., 0]], axis=1) / 8.0
is_big = (target >= 5).astype("float32")

image_input = keras.Input(shape=(8, 8, 1), name="image")
meta_input = keras.Input(shape=(16,), name="meta")

x = layers.Conv2D(16, 3, activation="relu", padding="same")(image_input)
x = layers.Flatten()(x)
m = layers.Dense(16, activation="relu")(meta_input)
features = layers.concatenate([x, m])
features = layers.Dense(64, activation="relu")(features)

digit_out = layers.Dense(10, activation="softmax", name="digit")(features)
big_out = layers.Dense(1, activation="sigmoid", name="big")(features)

model = keras.Model(inputs=[image_input, meta_input], outputs=[digit_out, big_out])

model.compile(
    optimizer=keras.optimizers.RMSprop(1e-3),
    loss={
        "digit": keras.losses.SparseCategoricalCrossentropy(),
        "big": keras.losses.BinaryCrossentropy(),
    },
    loss_weights={"digit": 1.0, "big": 0.2},
    metrics={"digit": ["accuracy"], "big": [keras.metrics.AUC(name="auc")]},
)

n_train = 1500
history = model.fit(
    {"image": images[:n_train], "meta": meta[:n_train]},
    {"digit": target[:n_train], "big": is_big[:n_train]},
    epochs=3,
    batch_size=32,
    verbose=2,
)

results = model.evaluate(
    {"image": images[n_train:], "meta": meta[n_train:]},
    {"digit": target[n_train:], "big": is_big[n_train:]},
    return_dict=True,
    verbose=0,
)
print(results)

out = {"train_loss": float(history.history["loss"][-1])}
out.update({k: float(v) for k, v in sorted(results.items())})
print("RESULT", json.dumps(out))
