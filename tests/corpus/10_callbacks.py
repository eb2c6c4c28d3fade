"""Training with the usual pile of callbacks.

Pattern: fit() with EarlyStopping(restore_best_weights=True), ReduceLROnPlateau,
ModelCheckpoint(save_best_only, weights only, into a temporary folder),
LearningRateScheduler and a custom Callback that records the learning rate and
the validation loss at every epoch end; the best checkpoint is loaded back at
the end and evaluated.
Style: in the style of keras-io's "Training & evaluation with the built-in
methods" guide (its "Using callbacks" and "Checkpointing models" sections), with
tf.keras. Seeds with np.random.seed + tf.random.set_seed.

releases: 2.15, 2.16, 2.21
deterministic: yes
"""
import json
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf
from tensorflow import keras

np.random.seed(0)
tf.random.set_seed(0)

bc = np.load(os.path.join(os.path.dirname(__file__), "data", "breast_cancer.npz"))
X, y = bc["x"], bc["y"]
idx = np.random.permutation(len(X))
X, y = X[idx], y[idx]
mean, std = X[:400].mean(0), X[:400].std(0)
X = (X - mean) / std
x_train, y_train = X[:400], y[:400]
x_val, y_val = X[400:], y[400:]


class LRLogger(keras.callbacks.Callback):
    """Remember the learning rate and val_loss at the end of every epoch."""

    def __init__(self):
        super().__init__()
        self.lrs = []
        self.val_losses = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        lr = float(keras.backend.get_value(self.model.optimizer.learning_rate))
        self.lrs.append(lr)
        self.val_losses.append(float(logs.get("val_loss", np.nan)))
        print(f"  [LRLogger] epoch {epoch + 1}: lr={lr:.6f} val_loss={logs.get('val_loss'):.4f}")


def scheduler(epoch, lr):
    # keep the initial rate for 2 epochs, then decay
    if epoch < 2:
        return lr
    return lr * 0.9


model = keras.Sequential([
    keras.layers.Dense(32, activation="relu", input_shape=(30,)),
    keras.layers.Dense(16, activation="relu"),
    keras.layers.Dense(1, activation="sigmoid"),
])
model.compile(optimizer=keras.optimizers.Adam(learning_rate=3e-3),
              loss="binary_crossentropy", metrics=["accuracy"])

ckpt_dir = tempfile.mkdtemp(prefix="ckpt_")
ckpt_path = os.path.join(ckpt_dir, "best.weights.h5")
lr_logger = LRLogger()
callbacks = [
    keras.callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True),
    keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_lr=1e-5),
    keras.callbacks.ModelCheckpoint(ckpt_path, monitor="val_loss", save_best_only=True,
                                    save_weights_only=True),
    keras.callbacks.LearningRateScheduler(scheduler),
    lr_logger,
]

history = model.fit(x_train, y_train, epochs=8, batch_size=32,
                    validation_data=(x_val, y_val), callbacks=callbacks, verbose=2)

model.load_weights(ckpt_path)
val_loss, val_acc = model.evaluate(x_val, y_val, verbose=0)
shutil.rmtree(ckpt_dir, ignore_errors=True)

print("RESULT", json.dumps({
    "epochs_run": len(history.history["loss"]),
    "final_lr": lr_logger.lrs[-1],
    "best_val_loss": min(lr_logger.val_losses),
    "val_loss": float(val_loss),
    "val_accuracy": float(val_acc),
}))
