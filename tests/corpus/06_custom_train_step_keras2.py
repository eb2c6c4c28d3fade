"""Overriding train_step / test_step with the tf.keras 2 API.

Pattern: custom train_step that uses self.compiled_loss(...) and
self.compiled_metrics.update_state(...) and returns
{m.name: m.result() for m in self.metrics}; sample_weight is unpacked when present.
Written for tf.keras 2 (TF <= 2.15); Keras 3 replaced these hooks.
Style: in the style of keras-io's "Customizing what happens in fit()" guide
(TF 2.x version, guides/customizing_what_happens_in_fit.py). Seeds with np.random.seed
and tf.random.set_seed.

releases: 2.15, 2.16
deterministic: yes
breaks: 2.21 (TypeError: float() argument must be a string or a real number, not 'dict' -- evaluate() returns [loss, {'mae': ...}])
note: on 2.16 it exits 0 but the "loss" it reports is wrong: Keras 3's compiled_metrics shim also
  feeds (y, y_pred) to the loss tracker, a Mean, so "loss" becomes a y_pred-weighted mean of y.
"""
import json
import os

import numpy as np
import tensorflow as tf
from tensorflow import keras

np.random.seed(7)
tf.random.set_seed(7)


class CustomModel(keras.Model):
    def train_step(self, data):
        # Unpack the data. Its structure depends on your model and
        # on what you pass to `fit()`.
        if len(data) == 3:
            x, y, sample_weight = data
        else:
            sample_weight = None
            x, y = data

        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)  # Forward pass
            loss = self.compiled_loss(
                y, y_pred, sample_weight=sample_weight,
                regularization_losses=self.losses,
            )

        trainable_vars = self.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)
        self.optimizer.apply_gradients(zip(gradients, trainable_vars))

        self.compiled_metrics.update_state(y, y_pred, sample_weight=sample_weight)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        self.compiled_loss(y, y_pred, regularization_losses=self.losses)
        self.compiled_metrics.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


with np.load(os.path.join(os.path.dirname(__file__), "data", "regression.npz")) as f:
    x, y = f["x"], f["y"].reshape(-1, 1)

inputs = keras.Input(shape=(8,))
h = keras.layers.Dense(32, activation="relu",
                       kernel_regularizer=keras.regularizers.l2(1e-4))(inputs)
outputs = keras.layers.Dense(1)(h)
model = CustomModel(inputs, outputs)
model.compile(optimizer="adam", loss="mse", metrics=["mae"])

sw = np.random.random((len(x), 1))
model.fit(x[:1200], y[:1200], sample_weight=sw[:1200], epochs=3, batch_size=32, verbose=2)
history = model.fit(x[:1200], y[:1200], epochs=1, batch_size=32, verbose=2)

loss, mae = model.evaluate(x[1200:], y[1200:], verbose=0)
print("RESULT", json.dumps({
    "loss": float(history.history["loss"][-1]),
    "mae": float(history.history["mae"][-1]),
    "test_loss": float(loss),
    "test_mae": float(mae),
}))
