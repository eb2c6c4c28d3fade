"""Custom training loop with the step functions compiled by @tf.function.

Pattern: GradientTape training where train_step / test_step are decorated with
@tf.function, metric objects (Mean for the loss, accuracy) are updated inside
the compiled step, and a regularisation loss from model.losses is added; the
outer loop over epochs and batches stays in Python; seeds set once with
tf.random.set_seed.
Style: in the style of the TensorFlow "Quickstart for experts" tutorial
(site/en/tutorials/quickstart/advanced.ipynb: @tf.function def train_step(images, labels)
with train_loss / train_accuracy metrics) and the "speeding up your training step
with tf.function" part of keras-io's training-loop guide.

releases: 2.15, 2.16, 2.21
deterministic: yes
"""
import json
import os

import numpy as np
import tensorflow as tf
from tensorflow.keras import Model
from tensorflow.keras.layers import Conv2D, Dense, Flatten

tf.random.set_seed(26)

digits = np.load(os.path.join(os.path.dirname(__file__), "data", "digits.npz"))
x = digits["x"][..., tf.newaxis].astype("float32") / 16.0
y = digits["y"]
x_train, y_train, x_test, y_test = x[:1400], y[:1400], x[1400:], y[1400:]

train_ds = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(1400).batch(32)
test_ds = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(32)


class MyModel(Model):
    def __init__(self):
        super().__init__()
        self.conv1 = Conv2D(16, 3, activation="relu")
        self.flatten = Flatten()
        self.d1 = Dense(64, activation="relu",
                        kernel_regularizer=tf.keras.regularizers.l2(1e-4))
        self.d2 = Dense(10)

    def call(self, x):
        x = self.conv1(x)
        x = self.flatten(x)
        x = self.d1(x)
        return self.d2(x)


model = MyModel()
loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
optimizer = tf.keras.optimizers.Adam()

train_loss = tf.keras.metrics.Mean(name="train_loss")
train_accuracy = tf.keras.metrics.SparseCategoricalAccuracy(name="train_accuracy")
test_loss = tf.keras.metrics.Mean(name="test_loss")
test_accuracy = tf.keras.metrics.SparseCategoricalAccuracy(name="test_accuracy")


@tf.function
def train_step(images, labels):
    with tf.GradientTape() as tape:
        predictions = model(images, training=True)
        loss = loss_object(labels, predictions)
        loss += tf.add_n(model.losses)
    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))
    train_loss(loss)
    train_accuracy(labels, predictions)


@tf.function
def test_step(images, labels):
    predictions = model(images, training=False)
    t_loss = loss_object(labels, predictions)
    test_loss(t_loss)
    test_accuracy(labels, predictions)


EPOCHS = 3
for epoch in range(EPOCHS):
    for metric in (train_loss, train_accuracy, test_loss, test_accuracy):
        metric.reset_state()

    for images, labels in train_ds:
        train_step(images, labels)
    for test_images, test_labels in test_ds:
        test_step(test_images, test_labels)

    print(
        f"Epoch {epoch + 1}, "
        f"Loss: {train_loss.result():0.4f}, "
        f"Accuracy: {train_accuracy.result() * 100:0.2f}, "
        f"Test Loss: {test_loss.result():0.4f}, "
        f"Test Accuracy: {test_accuracy.result() * 100:0.2f}"
    )

print("RESULT", json.dumps({
    "train_loss": float(train_loss.result()),
    "train_accuracy": float(train_accuracy.result()),
    "test_loss": float(test_loss.result()),
    "test_accuracy": float(test_accuracy.result()),
}))
