"""validation_split in one fit(), validation_data (a tuple and a tf.data.Dataset) in others.

Pattern: the same model is trained three times from the same initial weights
(saved with get_weights / restored with set_weights): with
validation_split=0.2 (Keras takes the LAST 20% of the arrays, before any
shuffling), with validation_data=(x_val, y_val) built from that same last 20%,
and with validation_data given as a batched tf.data.Dataset plus
validation_freq=... Which val_loss each run reports are compared.
Style: in the style of keras-io's "Training & evaluation with the built-in
methods" guide (its "Automatically setting apart a validation holdout set"
and "Training & evaluation from tf.data Datasets" sections). Seeds with
tf.random.set_seed.

releases: 2.15, 2.16, 2.21
deterministic: yes
"""
import json
import os

import numpy as np
import tensorflow as tf
from tensorflow import keras

tf.random.set_seed(31)

bc = np.load(os.path.join(os.path.dirname(__file__), "data", "breast_cancer.npz"))
x = bc["x"]
x = (x - x.mean(0)) / x.std(0)
y = bc["y"]

split_at = int(len(x) * 0.8)
x_val, y_val = x[split_at:], y[split_at:]


def get_uncompiled_model():
    inputs = keras.Input(shape=(30,), name="features")
    h = keras.layers.Dense(32, activation="relu", name="dense_1")(inputs)
    h = keras.layers.Dense(32, activation="relu", name="dense_2")(h)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="predictions")(h)
    return keras.Model(inputs=inputs, outputs=outputs)


def get_compiled_model():
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
                  loss="binary_crossentropy", metrics=["binary_accuracy"])
    return model


model = get_compiled_model()
initial_weights = model.get_weights()

h1 = model.fit(x, y, batch_size=32, validation_split=0.2, epochs=3, verbose=2)

model = get_compiled_model()
model.set_weights(initial_weights)
h2 = model.fit(x[:split_at], y[:split_at], batch_size=32, validation_data=(x_val, y_val),
               epochs=3, verbose=2)

model = get_compiled_model()
model.set_weights(initial_weights)
train_dataset = tf.data.Dataset.from_tensor_slices((x[:split_at], y[:split_at])).batch(32)
val_dataset = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(64)
h3 = model.fit(train_dataset, validation_data=val_dataset, validation_freq=[1, 3], epochs=3,
               verbose=2)

print("val_loss per run:", h1.history["val_loss"], h2.history["val_loss"], h3.history["val_loss"])
print("RESULT", json.dumps({
    "split_val_loss": float(h1.history["val_loss"][-1]),
    "tuple_val_loss": float(h2.history["val_loss"][-1]),
    "dataset_val_loss": float(h3.history["val_loss"][-1]),
    "dataset_val_evals": len(h3.history["val_loss"]),
    "split_val_acc": float(h1.history["val_binary_accuracy"][-1]),
    "tuple_val_acc": float(h2.history["val_binary_accuracy"][-1]),
}))
