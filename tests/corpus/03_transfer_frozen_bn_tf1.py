"""Frozen BatchNormalization inside a nested model, TF 1.15 (graph mode) edition.

Pattern: nested model / transfer learning with a frozen base containing
BatchNormalization, on TF 1.x tf.keras without eager execution. A small base is
trained on digits 0-4, its layers are set trainable=False, and it is reused under
a new head for digits 5-9. In 1.x the frozen BN layers keep using batch
statistics while training (the behaviour reported in keras-team/keras#13892),
so the script prints train-mode vs inference-mode loss on the same batch and the
moving-mean change.
Style: a reproduction in the style of keras-team/keras#13892 (functional API,
layer.trainable loop, K.learning_phase-era code).

releases: 1.15
deterministic: yes
breaks: 2.15, 2.16, 2.21 (AttributeError: module 'tensorflow' has no attribute 'set_random_seed' -- TF 1 API)
"""
from __future__ import print_function

import json
import os

import numpy as np
import tensorflow as tf

K = tf.keras.backend
Input = tf.keras.layers.Input
Model = tf.keras.models.Model

np.random.seed(1)
tf.set_random_seed(1)

d = np.load(os.path.join(os.path.dirname(__file__), "data", "digits.npz"))
X = d["x"].astype(np.float32).reshape(-1, 8, 8, 1) / 16.0
Y = d["y"]
Xa, Ya = X[Y < 5], Y[Y < 5]
Xb, Yb = X[Y >= 5], Y[Y >= 5] - 5

# base network
inp = Input(shape=(8, 8, 1))
h = tf.keras.layers.Conv2D(16, (3, 3), padding="same")(inp)
h = tf.keras.layers.BatchNormalization()(h)
h = tf.keras.layers.Activation("relu")(h)
h = tf.keras.layers.Conv2D(16, (3, 3), padding="same")(h)
h = tf.keras.layers.BatchNormalization()(h)
h = tf.keras.layers.Activation("relu")(h)
h = tf.keras.layers.GlobalAveragePooling2D()(h)
base = Model(inp, h, name="base")

out = tf.keras.layers.Dense(5, activation="softmax")(base.output)
pretrain = Model(base.input, out)
pretrain.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["acc"])
pretrain.fit(Xa, Ya, batch_size=32, epochs=5, verbose=2)

# freeze
for layer in base.layers:
    layer.trainable = False

new_in = Input(shape=(8, 8, 1))
feat = base(new_in)
new_out = tf.keras.layers.Dense(5, activation="softmax")(feat)
model = Model(new_in, new_out)
model.compile(optimizer=tf.keras.optimizers.Adam(lr=0.01),
              loss="sparse_categorical_crossentropy", metrics=["acc"])

bn = [l for l in base.layers if isinstance(l, tf.keras.layers.BatchNormalization)][0]
mm_before = K.get_value(bn.moving_mean)

hist = model.fit(Xb, Yb, batch_size=32, epochs=3, verbose=2)

mm_after = K.get_value(bn.moving_mean)
shift = float(np.abs(mm_after - mm_before).max())

# same batch: loss as seen by training vs. loss in inference mode
batch_x, batch_y = Xb[:64], Yb[:64]
train_mode_loss = model.train_on_batch(batch_x, batch_y)[0]
test_mode_loss = model.test_on_batch(batch_x, batch_y)[0]
print("moving mean shift while frozen:", shift)
print("train-mode loss %.4f vs inference-mode loss %.4f" % (train_mode_loss, test_mode_loss))

loss, acc = model.evaluate(Xb, Yb, verbose=0)
print("RESULT", json.dumps({
    "frozen_bn_moving_mean_shift": shift,
    "train_loss": float(hist.history["loss"][-1]),
    "train_mode_loss": float(train_mode_loss),
    "test_mode_loss": float(test_mode_loss),
    "eval_loss": float(loss),
    "eval_acc": float(acc),
}))
