"""Mixed precision (mixed_float16) training, run on CPU.

Pattern: tf.keras.mixed_precision.set_global_policy("mixed_float16") before the
model is built; layers compute in float16 with float32 variables; the last
Dense is followed by an Activation with dtype="float32" so the softmax and the
loss are computed in float32; Keras wraps the optimizer in a LossScaleOptimizer
by itself. On a CPU this is slow, but people do run it that way when testing.
Style: in the style of the TensorFlow "Mixed precision" guide
(site/en/guide/mixed_precision.ipynb). Seeds with tf.keras.utils.set_random_seed.

releases: 2.15, 2.16, 2.21
deterministic: yes
"""
import json
import os

import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers
from tensorflow.keras import mixed_precision

tf.keras.utils.set_random_seed(5)

mixed_precision.set_global_policy("mixed_float16")
print("Compute dtype:", mixed_precision.global_policy().compute_dtype)
print("Variable dtype:", mixed_precision.global_policy().variable_dtype)

d = np.load(os.path.join(os.path.dirname(__file__), "data", "digits.npz"))
x_train = d["x"].reshape(-1, 64).astype("float32") / 16.0
y_train = d["y"].astype("float32")
x_test, y_test = x_train[1500:], y_train[1500:]
x_train, y_train = x_train[:1500], y_train[:1500]

inputs = keras.Input(shape=(64,), name="digits")
x = layers.Dense(128, activation="relu", name="dense_1")(inputs)
x = layers.Dense(128, activation="relu", name="dense_2")(x)
print("dense_2 dtype policy:", x.dtype)
x = layers.Dense(10, name="dense_logits")(x)
outputs = layers.Activation("softmax", dtype="float32", name="predictions")(x)
print("Outputs dtype:", outputs.dtype)

model = keras.Model(inputs=inputs, outputs=outputs)
model.compile(loss="sparse_categorical_crossentropy",
              optimizer=keras.optimizers.RMSprop(),
              metrics=["accuracy"])
print("optimizer:", type(model.optimizer).__name__)

history = model.fit(x_train, y_train, batch_size=64, epochs=3, validation_split=0.2, verbose=2)
test_scores = model.evaluate(x_test, y_test, verbose=2)
print("Test loss:", test_scores[0])
print("Test accuracy:", test_scores[1])

print("RESULT", json.dumps({
    "loss": float(history.history["loss"][-1]),
    "val_accuracy": float(history.history["val_accuracy"][-1]),
    "test_loss": float(test_scores[0]),
    "test_accuracy": float(test_scores[1]),
}))
