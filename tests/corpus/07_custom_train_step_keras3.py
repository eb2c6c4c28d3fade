"""Overriding train_step with the Keras 3 API (TensorFlow backend).

Pattern: custom train_step written for Keras 3: loss from
self.compute_loss(x=..., y=..., y_pred=..., sample_weight=...), metrics updated by
looping over self.metrics (the "loss" tracker gets the loss, the others y/y_pred)
and returned as {m.name: m.result() for m in self.metrics}. Uses `import keras`
and the Keras 3 optimizer.apply(grads, vars) call. evaluate() uses the default
test_step (see 08_custom_test_step_keras3.py for an overridden one).
Style: in the style of keras-io's Keras 3 guide "Customizing what happens in
fit() with TensorFlow" (guides/custom_train_step_in_tensorflow.py). Seeds with
keras.utils.set_random_seed.

releases: 2.16, 2.21
deterministic: yes
breaks: 2.15 (TypeError: Model.compute_loss() got an unexpected keyword argument 'training')
"""
import json
import os

import numpy as np
import tensorflow as tf
import keras
from keras import layers

keras.utils.set_random_seed(3)


class CustomModel(keras.Model):
    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)

        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True,
            )

        trainable_vars = self.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)
        self.optimizer.apply(gradients, trainable_vars)

        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred, sample_weight=sample_weight)
        return {m.name: m.result() for m in self.metrics}


here = os.path.dirname(os.path.abspath(__file__))
d = np.load(os.path.join(here, "data", "breast_cancer.npz"))
x = d["x"]
x = (x - x.mean(axis=0)) / x.std(axis=0)
y = d["y"].astype("float32").reshape(-1, 1)

inputs = keras.Input(shape=(30,))
h = layers.Dense(16, activation="relu")(inputs)
outputs = layers.Dense(1, activation="sigmoid")(h)
model = CustomModel(inputs, outputs)
model.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss=keras.losses.BinaryCrossentropy(),
    metrics=[keras.metrics.BinaryAccuracy(name="acc")],
)

sw = np.where(y[:, 0] == 0, 2.0, 1.0).astype("float32")
history = model.fit(x[:450], y[:450], sample_weight=sw[:450], epochs=3, batch_size=32,
                    verbose=2)

scores = model.evaluate(x[450:], y[450:], return_dict=True, verbose=0)
print(scores)
print("RESULT", json.dumps({
    "loss": float(history.history["loss"][-1]),
    "acc": float(history.history["acc"][-1]),
    "test_loss": float(scores["loss"]),
    "test_acc": float(scores["acc"]),
}))
