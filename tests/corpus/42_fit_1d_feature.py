"""One-feature regression whose x is a plain 1-D array passed straight to fit().

Pattern: y = f(x) + noise with x of shape (n,) -- one feature, never reshaped to
(n, 1) -- and a Sequential model without an input shape, built by its first
call in fit(). Up to TF 2.6 Keras expanded 1-D inputs to (batch, 1) inside
fit/evaluate/predict; from 2.7 on it does not, and the Dense layer refuses an
input of ndim 1. (With input_shape=[1] the model itself expands the input, on
every release.) The fix is one line
(x[:, None] or np.expand_dims(x, -1)); no knob or pin restores it.
Style: in the style of the many "fit a line / a curve with Keras" tutorials and
StackOverflow questions (model = Sequential([Dense(units=16), Dense(units=1)]);
model.fit(xs, ys, epochs=...)), e.g. the "Hello World of ML" celsius example.
Seeds with tf.random.set_seed.

releases: 2.6
deterministic: yes
breaks: 2.7, 2.15 (ValueError: Exception encountered when calling layer "sequential" ... Input 0 of layer "dense" is incompatible with the layer: expected min_ndim=2, found ndim=1)
"""
import json

import numpy as np
import tensorflow as tf

tf.random.set_seed(1)
rng = np.random.RandomState(1)
xs = rng.uniform(-2.0, 2.0, size=400).astype("float32")  # shape (400,)
ys = (0.5 * xs ** 3 - xs + rng.normal(scale=0.1, size=400)).astype("float32")

model = tf.keras.Sequential([
    tf.keras.layers.Dense(units=16, activation="tanh"),
    tf.keras.layers.Dense(units=1),
])
model.compile(optimizer=tf.keras.optimizers.Adam(0.02), loss="mean_squared_error")
history = model.fit(xs[:320], ys[:320], epochs=5, batch_size=32, verbose=0)
test_loss = model.evaluate(xs[320:], ys[320:], verbose=0)
print("RESULT " + json.dumps({"final_loss": round(float(history.history["loss"][-1]), 6),
                              "test_loss": round(float(test_loss), 6),
                              "f(1.0)": round(float(model.predict(np.array([1.0]))[0][0]), 6)}))
