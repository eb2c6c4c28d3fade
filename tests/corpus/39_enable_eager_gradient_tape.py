"""An eager GradientTape loop that starts with tf.compat.v1.enable_eager_execution().

Pattern: a script first written for TF 1.14/1.15 "TF2 preview" style: turn
eager on at the top, then a tf.keras Model called in a hand-written loop with
tf.GradientTape and a tf.keras optimizer, the data as a tf.data.Dataset
iterated in Python, loss tracked with numpy; on TF 2.x the enable call is a
no-op and the same file runs unchanged.
Style: in the style of the TF 1.x "Eager execution" guide and the
"Custom training: walkthrough" tutorial (the iris walkthrough:
def loss(model, x, y), def grad(model, inputs, targets), epoch_loss_avg),
on the wine data. Seeds with np.random.seed and tf.compat.v1.set_random_seed.

releases: 1.15, 2.0, 2.1, 2.2, 2.3, 2.15, 2.16, 2.21
deterministic: yes
"""
from __future__ import print_function

import json
import os

import numpy as np
import tensorflow as tf

tf.compat.v1.enable_eager_execution()
np.random.seed(39)
tf.compat.v1.set_random_seed(39)
print("TensorFlow version: {}".format(tf.__version__))
print("Eager execution: {}".format(tf.executing_eagerly()))

wine = np.load(os.path.join(os.path.dirname(__file__), "data", "wine.npz"))
features = (wine["x"] - wine["x"].mean(0)) / wine["x"].std(0)
labels = wine["y"]
train_dataset = tf.data.Dataset.from_tensor_slices((features.astype(np.float32), labels))
train_dataset = train_dataset.shuffle(200, seed=39).batch(16)

model = tf.keras.Sequential([
    tf.keras.layers.Dense(10, activation=tf.nn.relu, input_shape=(13,)),
    tf.keras.layers.Dense(10, activation=tf.nn.relu),
    tf.keras.layers.Dense(3),
])
loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def loss(model, x, y, training):
    y_ = model(x, training=training)
    return loss_object(y_true=y, y_pred=y_)


def grad(model, inputs, targets):
    with tf.GradientTape() as tape:
        loss_value = loss(model, inputs, targets, training=True)
    return loss_value, tape.gradient(loss_value, model.trainable_variables)


optimizer = tf.keras.optimizers.SGD(learning_rate=0.05)

train_loss_results = []
train_accuracy_results = []
num_epochs = 5
for epoch in range(num_epochs):
    losses, correct, seen = [], 0, 0
    for x, y in train_dataset:
        loss_value, grads = grad(model, x, y)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        losses.append(float(loss_value))
        pred = np.argmax(model(x, training=True).numpy(), axis=1)
        correct += int((pred == y.numpy()).sum())
        seen += int(y.shape[0])
    train_loss_results.append(float(np.mean(losses)))
    train_accuracy_results.append(correct / float(seen))
    print("Epoch {:03d}: Loss: {:.3f}, Accuracy: {:.3%}".format(
        epoch, train_loss_results[-1], train_accuracy_results[-1]))

logits = model(features.astype(np.float32), training=False).numpy()
final_acc = float(np.mean(np.argmax(logits, axis=1) == labels))
print("RESULT", json.dumps({
    "train_loss": train_loss_results[-1],
    "train_accuracy": train_accuracy_results[-1],
    "full_data_accuracy": final_acc,
}))
