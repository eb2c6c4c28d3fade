"""Custom training loop with tf.GradientTape, run eagerly (no tf.function).

Pattern: a Keras functional model, an optimizer and a loss object; a Python
`for epoch / for step, (x_batch, y_batch) in enumerate(train_dataset)` loop
that opens a GradientTape per batch, calls model(x, training=True), computes
the loss, gets gradients and calls optimizer.apply_gradients -- all eagerly;
metrics updated per batch and reset per epoch with reset_state(s).
Style: in the style of keras-io's "Writing a training loop from scratch in
TensorFlow" guide (guides/writing_a_custom_training_loop_in_tensorflow.py, its
first, un-compiled loop). Does not seed itself.

releases: 2.15, 2.16, 2.21
deterministic: yes
"""
import json
import os
import time

import numpy as np
import tensorflow as tf
from tensorflow import keras

inputs = keras.Input(shape=(64,), name="digits")
x1 = keras.layers.Dense(64, activation="relu")(inputs)
x2 = keras.layers.Dense(64, activation="relu")(x1)
outputs = keras.layers.Dense(10, name="predictions")(x2)
model = keras.Model(inputs=inputs, outputs=outputs)

optimizer = keras.optimizers.SGD(learning_rate=1e-2, momentum=0.9)
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
train_acc_metric = keras.metrics.SparseCategoricalAccuracy()
val_acc_metric = keras.metrics.SparseCategoricalAccuracy()

batch_size = 64
d = np.load(os.path.join(os.path.dirname(__file__), "data", "digits.npz"))
x_all = np.reshape(d["x"], (-1, 64)).astype("float32") / 16.0
y_all = d["y"]
x_train, y_train = x_all[:-300], y_all[:-300]
x_val, y_val = x_all[-300:], y_all[-300:]

train_dataset = tf.data.Dataset.from_tensor_slices((x_train, y_train))
train_dataset = train_dataset.shuffle(buffer_size=1024).batch(batch_size)
val_dataset = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(batch_size)


def reset(metric):
    # reset_states() was renamed reset_state() (and the old name removed in Keras 3)
    if hasattr(metric, "reset_state"):
        metric.reset_state()
    else:
        metric.reset_states()


epochs = 3
for epoch in range(epochs):
    print("\nStart of epoch %d" % (epoch,))
    start_time = time.time()
    for step, (x_batch_train, y_batch_train) in enumerate(train_dataset):
        with tf.GradientTape() as tape:
            logits = model(x_batch_train, training=True)
            loss_value = loss_fn(y_batch_train, logits)
        grads = tape.gradient(loss_value, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
        train_acc_metric.update_state(y_batch_train, logits)
        if step % 10 == 0:
            print("Training loss (for one batch) at step %d: %.4f" % (step, float(loss_value)))

    train_acc = train_acc_metric.result()
    print("Training acc over epoch: %.4f" % (float(train_acc),))
    reset(train_acc_metric)

    for x_batch_val, y_batch_val in val_dataset:
        val_logits = model(x_batch_val, training=False)
        val_acc_metric.update_state(y_batch_val, val_logits)
    val_acc = val_acc_metric.result()
    reset(val_acc_metric)
    print("Validation acc: %.4f" % (float(val_acc),))
    print("Time taken: %.2fs" % (time.time() - start_time))

print("RESULT", json.dumps({
    "last_batch_loss": float(loss_value),
    "train_acc": float(train_acc),
    "val_acc": float(val_acc),
}))
