"""Reproducible training of a Sequential MLP on digits.

Pattern: a Sequential model created WITHOUT an Input layer, so it is only built
inside fit(); the script seeds everything itself (keras.utils.set_random_seed)
and turns on op determinism before doing anything else.
Style: in the style of keras-io's "Reproducibility in Keras Models" recipe
(examples/keras_recipes/reproducibility_recipes.py), using tf.keras.

releases: 2.15, 2.16, 2.21
deterministic: yes
"""
import json
import os

import numpy as np
import tensorflow as tf

# Set every seed we can think of (python, numpy, tensorflow) in one call,
# then ask TF to pick deterministic kernels.
tf.keras.utils.set_random_seed(812)
tf.config.experimental.enable_op_determinism()

data = np.load(os.path.join(os.path.dirname(__file__), "data", "digits.npz"))
x = data["x"].reshape(-1, 64).astype("float32") / 16.0
y = data["y"]

x_train, y_train = x[:1400], y[:1400]
x_test, y_test = x[1400:], y[1400:]

model = tf.keras.Sequential([
    tf.keras.layers.Dense(64, activation="relu"),
    tf.keras.layers.Dropout(0.2),
    tf.keras.layers.Dense(32, activation="relu"),
    tf.keras.layers.Dense(10, activation="softmax"),
])

model.compile(
    optimizer="adam",
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
    jit_compile=False,
)

# shuffle=True is the default for numpy input; with the seeds above it is
# still reproducible.
history = model.fit(x_train, y_train, batch_size=32, epochs=3,
                    validation_data=(x_test, y_test), verbose=2)

test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
print(f"Model accuracy on test data: {test_acc * 100:.2f}%")

print("RESULT", json.dumps({
    "loss": float(history.history["loss"][-1]),
    "val_accuracy": float(history.history["val_accuracy"][-1]),
    "test_loss": float(test_loss),
    "test_accuracy": float(test_acc),
}))
