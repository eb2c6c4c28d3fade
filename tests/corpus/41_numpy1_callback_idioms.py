"""A custom early-stopping callback written with NumPy 1 idioms.

Pattern: the "write your own EarlyStopping" callback: on_train_begin sets
self.best = np.Inf and self.wait = 0, on_epoch_end compares np.less(current,
self.best), keeps model.get_weights() of the best epoch and restores them when
training stops (model.stop_training = True). The script then prints the best
epoch and the test accuracy of the restored weights. np.Inf (and np.NaN,
np.float_) were removed in NumPy 2.0: the script runs wherever the environment
still has NumPy 1.x.
Style: in the style of keras-io's "Writing your own callbacks" guide
(EarlyStoppingAtMinLoss with `self.best = np.Inf`), written for tf.keras and
kept portable between Keras 2 and Keras 3. Seeds with tf.keras.utils.set_random_seed.

releases: 2.15, 2.16
deterministic: yes
breaks: 2.21 (AttributeError: `np.Inf` was removed in the NumPy 2.0 release. Use `np.inf` instead. -- NumPy 2)
"""
import json
import os

import numpy as np
import tensorflow as tf
from tensorflow import keras

tf.keras.utils.set_random_seed(3)

wine = np.load(os.path.join(os.path.dirname(__file__), "data", "wine.npz"))
X, y = wine["x"].astype("float32"), wine["y"]
idx = np.random.permutation(len(X))
X, y = X[idx], y[idx]
X = (X - X[:130].mean(0)) / X[:130].std(0)
x_train, y_train, x_test, y_test = X[:130], y[:130], X[130:], y[130:]


class EarlyStoppingAtMinLoss(keras.callbacks.Callback):
    """Stop when the training loss stops improving; keep the best weights."""

    def __init__(self, patience=2):
        super().__init__()
        self.patience = patience
        self.best_weights = None

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = np.Inf

    def on_epoch_end(self, epoch, logs=None):
        current = logs.get("loss")
        if np.less(current, self.best):
            self.best = current
            self.wait = 0
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch
                self.model.stop_training = True
                self.model.set_weights(self.best_weights)


model = keras.Sequential([
    keras.Input(shape=(13,)),
    keras.layers.Dense(32, activation="relu"),
    keras.layers.Dense(3, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
stopper = EarlyStoppingAtMinLoss(patience=2)
model.fit(x_train, y_train, batch_size=16, epochs=8, verbose=0, callbacks=[stopper])
loss, acc = model.evaluate(x_test, y_test, verbose=0)
print("RESULT " + json.dumps({"best_epoch": int(stopper.best_epoch),
                              "test_loss": round(float(loss), 6),
                              "test_accuracy": round(float(acc), 6)}))
