"""An older tf.keras 2.x script full of idioms that later Keras dropped.

Pattern: the kind of script that survived from TF 1.x/2.0-era tutorials:
Adam(lr=...) instead of learning_rate=, a Python generator trained with
model.fit_generator(steps_per_epoch=...), a callback that reads and sets the
rate through K.get_value / K.set_value(self.model.optimizer.lr, ...),
ModelCheckpoint to "weights.{epoch:02d}-{val_loss:.2f}.hdf5", and
model.evaluate_generator at the end.
Style: in the style of TF 1.x / early TF 2.x blog posts and StackOverflow
answers (fit_generator with a `while True: yield` batch generator). Seeds with
np.random.seed and the TF seed function the release has.

releases: 1.15, 2.15
deterministic: yes
breaks: 2.16, 2.21 (ValueError: Argument(s) not recognized: {'lr': 0.003} -- Keras 3 optimizers; fit_generator and optimizer.lr are gone too)
note: on 2.15 it exits 0 but Adam(lr=0.003) only logs "`lr` is deprecated in Keras optimizer" and
  trains with the default 0.001 (final_lr 0.000125 = 0.001 / 8, vs 0.000375 on 1.15).
"""
import json
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf
from tensorflow.keras import backend as K
from tensorflow.keras.callbacks import Callback, ModelCheckpoint
from tensorflow.keras.layers import Dense
from tensorflow.keras.models import Sequential
from tensorflow.keras.optimizers import Adam

np.random.seed(34)
try:
    tf.random.set_seed(34)
except AttributeError:
    tf.set_random_seed(34)

data = np.load(os.path.join(os.path.dirname(__file__), "data", "breast_cancer.npz"))
X = data["x"]
X = (X - X.mean(axis=0)) / X.std(axis=0)
Y = data["y"]
X_train, Y_train, X_val, Y_val = X[:450], Y[:450], X[450:], Y[450:]


def batch_generator(X, Y, batch_size=32):
    while True:
        idx = np.random.permutation(len(X))
        for i in range(0, len(X) - batch_size + 1, batch_size):
            b = idx[i:i + batch_size]
            yield X[b], Y[b]


class HalveLR(Callback):
    def on_epoch_end(self, epoch, logs=None):
        lr = K.get_value(self.model.optimizer.lr)
        K.set_value(self.model.optimizer.lr, lr * 0.5)
        print(" - lr now %.5f" % K.get_value(self.model.optimizer.lr))


model = Sequential()
model.add(Dense(32, activation="relu", input_dim=30))
model.add(Dense(1, activation="sigmoid"))
model.compile(optimizer=Adam(lr=0.003), loss="binary_crossentropy", metrics=["accuracy"])

ckpt_dir = tempfile.mkdtemp()
checkpoint = ModelCheckpoint(os.path.join(ckpt_dir, "weights.{epoch:02d}-{val_loss:.2f}.hdf5"),
                             monitor="val_loss", save_best_only=True, verbose=1)
history = model.fit_generator(batch_generator(X_train, Y_train), steps_per_epoch=len(X_train) // 32,
                              epochs=3, validation_data=(X_val, Y_val),
                              callbacks=[checkpoint, HalveLR()], verbose=2)
n_checkpoints = len(os.listdir(ckpt_dir))
shutil.rmtree(ckpt_dir, ignore_errors=True)

val_loss, val_acc = model.evaluate_generator(batch_generator(X_val, Y_val, 17), steps=7)
acc_key = "accuracy" if "accuracy" in history.history else "acc"
print("RESULT", json.dumps({
    "loss": float(history.history["loss"][-1]),
    "train_acc": float(history.history[acc_key][-1]),
    "final_lr": float(K.get_value(model.optimizer.lr)),
    "checkpoints_written": n_checkpoints,
    "val_loss": float(val_loss),
    "val_acc": float(val_acc),
}))
