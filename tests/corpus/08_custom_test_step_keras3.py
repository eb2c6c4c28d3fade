"""Keras 3 model with both train_step and test_step overridden, evaluated to a dict.

Pattern: custom train_step AND test_step in the Keras 3 style (compute_loss, loop
over self.metrics, return {m.name: m.result() for m in self.metrics}), followed
by model.evaluate(..., return_dict=True) whose keys the script reads by name.
Style: in the style of keras-io's Keras 3 guide "Customizing what happens in
fit() with TensorFlow" (its "Providing your own evaluation step" section). Does
not seed itself.

releases: 2.16
deterministic: yes
breaks: 2.21 (KeyError: 'acc' -- evaluate(return_dict=True) gives {'loss': ..., 'compile_metrics': {'acc': ...}})
breaks: 2.15 (TypeError: Model.compute_loss() got an unexpected keyword argument 'training')
"""
import json
import os

import numpy as np
import tensorflow as tf
import keras
from keras import layers


class CustomModel(keras.Model):
    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred, training=True)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        loss = self.compute_loss(y=y, y_pred=y_pred, training=False)
        for metric in self.metrics:
            if metric.name != "loss":
                metric.update_state(y, y_pred)
            else:
                metric.update_state(loss)
        return {m.name: m.result() for m in self.metrics}


data = np.load(os.path.join(os.path.dirname(__file__), "data", "digits.npz"))
x = data["x"].reshape(len(data["x"]), -1).astype("float32") / 16.0
y = data["y"]

inputs = keras.Input(shape=(64,))
h = layers.Dense(32, activation="relu")(inputs)
outputs = layers.Dense(10)(h)
model = CustomModel(inputs, outputs)
model.compile(
    optimizer="adam",
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=[keras.metrics.SparseCategoricalAccuracy(name="acc")],
)
model.fit(x[:1500], y[:1500], epochs=3, batch_size=64, verbose=2)

scores = model.evaluate(x[1500:], y[1500:], return_dict=True, verbose=0)
print("RESULT", json.dumps({"test_loss": float(scores["loss"]), "test_acc": float(scores["acc"])}))
