"""A classifier whose optimizer decays its learning rate with the old `decay=` argument.

Pattern: Adam(learning_rate=0.01, decay=1e-3) -- the per-step inverse time decay
argument every Keras optimizer took until TF 2.10. TF 2.11 replaced the Keras
optimizers (the old ones live on as tf.keras.optimizers.legacy.*) and the new
ones refuse `decay`; Keras 3 refuses it too. The migration is a
learning-rate schedule (InverseTimeDecay) or, on 2.11-2.15, the legacy optimizer.
Style: in the style of TF 2.x-era tutorials and StackOverflow answers
("optimizer = Adam(lr=0.001, decay=1e-6)" in its learning_rate= spelling) with
tf.keras on the digits data. Seeds with tf.random.set_seed.

releases: 2.10
deterministic: yes
breaks: 2.11, 2.15 (ValueError: decay is deprecated in the new Keras optimizer, please check the docstring for valid arguments, or use the legacy optimizer, e.g., tf.keras.optimizers.legacy.Adam.)
"""
import json
import os

import numpy as np
import tensorflow as tf

tf.random.set_seed(2)
digits = np.load(os.path.join(os.path.dirname(__file__), "data", "digits.npz"))
x = digits["x"].reshape(len(digits["x"]), -1).astype("float32") / 16.0
y = digits["y"]
x_train, y_train, x_test, y_test = x[:1400], y[:1400], x[1400:], y[1400:]

model = tf.keras.Sequential([
    tf.keras.layers.Dense(64, activation="relu", input_shape=(64,)),
    tf.keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=0.01, decay=1e-3),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=64, epochs=3, verbose=0)
loss, acc = model.evaluate(x_test, y_test, verbose=0)
print("RESULT " + json.dumps({"test_loss": round(float(loss), 6),
                              "test_accuracy": round(float(acc), 6)}))
