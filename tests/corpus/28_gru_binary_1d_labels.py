"""GRU binary classifier where the labels are a flat (n,) vector and the output is (n, 1).

Pattern: sequences of shape (n, timesteps, features) with labels y of shape
(n,) straight from np.array(list_of_ints), a GRU -> Dense(1, sigmoid) model
whose output is (n, 1); binary_crossentropy and "accuracy" must cope with the
rank mismatch. The task: decide whether a noisy random walk ends above where
it started. Also checks the predicted (n, 1) against y with an explicit ravel().
Style: in the style of StackOverflow-type questions about GRU/LSTM binary
classifiers ("ValueError: logits and labels must have the same shape" in old
releases -- here with sigmoid outputs, which fit() accepts) and the Keras
sequence-classification snippets in the Sequential guide. Seeds with np.random.seed only.

releases: 1.15, 2.0, 2.1, 2.2, 2.3, 2.15, 2.16, 2.21
deterministic: yes
"""
import json

import numpy as np
import tensorflow as tf

np.random.seed(28)

n, timesteps = 600, 20
steps = np.random.normal(0.0, 1.0, size=(n, timesteps, 1)).astype("float32")
walks = np.cumsum(steps, axis=1)
y = np.array([int(w[-1, 0] > 0) for w in walks])  # shape (n,)
x = walks / np.sqrt(timesteps)
print("x", x.shape, "y", y.shape)

model = tf.keras.models.Sequential()
model.add(tf.keras.layers.GRU(16, input_shape=(timesteps, 1)))
model.add(tf.keras.layers.Dense(1, activation="sigmoid"))
model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])

history = model.fit(x[:500], y[:500], epochs=3, batch_size=32, validation_data=(x[500:], y[500:]),
                    verbose=2)
loss, acc = model.evaluate(x[500:], y[500:], verbose=0)
proba = model.predict(x[500:])
print("predict shape:", proba.shape)
manual_acc = float(np.mean((proba.ravel() > 0.5).astype(int) == y[500:]))

print("RESULT", json.dumps({
    "train_loss": float(history.history["loss"][-1]),
    "test_loss": float(loss),
    "test_accuracy": float(acc),
    "manual_accuracy": manual_acc,
}))
