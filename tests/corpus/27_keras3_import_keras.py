"""A Keras 3 script: `import keras`, keras.ops, keras.random, backend-agnostic code.

Pattern: written for Keras 3 (multi-backend) running on the TensorFlow
backend: only `import keras` (tensorflow is never imported), a custom layer
built with keras.ops and self.add_weight(shape=..., initializer=...), a
keras.random.SeedGenerator for in-layer noise, keras.utils.set_random_seed,
keras.ops.convert_to_numpy on the predictions, and the ".keras" format for a
round trip.
Style: in the style of the Keras 3 "Getting started" / "Making new layers and
models via subclassing" guides (keras.io/guides, Keras 3 versions).

releases: 2.16, 2.21
deterministic: yes
breaks: 2.15 (ImportError: cannot import name 'ops' from 'keras' -- `import keras` is Keras 2.15 there)
"""
import json
import os
import tempfile

import numpy as np
import keras
from keras import layers, ops

print("Keras", keras.__version__, "backend", keras.backend.backend())
keras.utils.set_random_seed(1337)


class NoisyDense(layers.Layer):
    """Dense layer that adds Gaussian noise to its output while training."""

    def __init__(self, units, stddev=0.1, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.stddev = stddev
        self.seed_generator = keras.random.SeedGenerator(42)

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                 initializer="glorot_uniform", trainable=True, name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True,
                                 name="b")

    def call(self, inputs, training=False):
        y = ops.matmul(inputs, self.w) + self.b
        if training:
            y = y + keras.random.normal(ops.shape(y), stddev=self.stddev,
                                        seed=self.seed_generator)
        return y

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "stddev": self.stddev})
        return config


data = np.load(os.path.join(os.path.dirname(__file__), "data", "wine.npz"))
x = data["x"]
x = (x - x.mean(axis=0)) / x.std(axis=0)
y = data["y"]
rng = np.random.default_rng(0)
order = rng.permutation(len(x))
x, y = x[order], y[order]

model = keras.Sequential([
    keras.Input(shape=(13,)),
    NoisyDense(32),
    layers.Activation("relu"),
    NoisyDense(3),
    layers.Softmax(),
])
model.compile(optimizer=keras.optimizers.AdamW(learning_rate=5e-3, weight_decay=1e-3),
              loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
history = model.fit(x[:140], y[:140], epochs=3, batch_size=16, verbose=2)

path = os.path.join(tempfile.mkdtemp(), "noisy.keras")
model.save(path)
restored = keras.saving.load_model(path, custom_objects={"NoisyDense": NoisyDense})
probs = ops.convert_to_numpy(restored(x[140:]))
acc = float(np.mean(np.argmax(probs, axis=-1) == y[140:]))

print("RESULT", json.dumps({
    "loss": float(history.history["loss"][-1]),
    "accuracy": float(history.history["accuracy"][-1]),
    "restored_test_accuracy": acc,
    "mean_max_prob": float(probs.max(axis=-1).mean()),
}))
