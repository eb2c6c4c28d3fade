"""Transfer learning: pretrain a small conv base, freeze it, wrap it in a new model.

Pattern: nested model. A "pretrained" base (Conv2D + BatchNormalization) is first
trained on digits 0-4, then frozen with base.trainable = False and called inside a
new functional Model as base(inputs, training=False); a new head is trained on
digits 5-9, then the whole thing is unfrozen and fine-tuned with a low learning
rate. The script checks whether the BN moving statistics moved while frozen
(the question of keras-team/keras#13892).
Style: in the style of keras-io's transfer-learning guide (guides/transfer_learning.py),
with tf.keras.

releases: 2.15, 2.16, 2.21
deterministic: yes
"""
import json
import os

import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers

tf.random.set_seed(42)
np.random.seed(42)

here = os.path.dirname(os.path.abspath(__file__))
with np.load(os.path.join(here, "data", "digits.npz")) as f:
    images = f["x"].astype("float32")[..., None] / 16.0
    labels = f["y"]

task_a = labels < 5
xa, ya = images[task_a], labels[task_a]
xb, yb = images[~task_a], labels[~task_a] - 5

# ---------------------------------------------------------------------------
# 1) "Pretraining" of the base on task A
# ---------------------------------------------------------------------------
base_model = keras.Sequential(
    [
        keras.Input(shape=(8, 8, 1)),
        layers.Conv2D(16, 3, padding="same", use_bias=False),
        layers.BatchNormalization(),
        layers.Activation("relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(32, 3, padding="same", use_bias=False),
        layers.BatchNormalization(),
        layers.Activation("relu"),
        layers.GlobalAveragePooling2D(),
    ],
    name="base",
)
pretrain = keras.Sequential([base_model, layers.Dense(5, activation="softmax")])
pretrain.compile(optimizer=keras.optimizers.Adam(1e-2),
                 loss="sparse_categorical_crossentropy", metrics=["accuracy"])
pretrain.fit(xa, ya, batch_size=32, epochs=5, verbose=2)

# ---------------------------------------------------------------------------
# 2) Freeze the base and put a new head on top for task B
# ---------------------------------------------------------------------------
base_model.trainable = False

inputs = keras.Input(shape=(8, 8, 1))
# We make sure that the base_model is running in inference mode here,
# by passing `training=False`. This is important for fine-tuning.
x = base_model(inputs, training=False)
x = layers.Dropout(0.2)(x)
outputs = layers.Dense(5, activation="softmax")(x)
model = keras.Model(inputs, outputs)
model.summary()

bn = base_model.layers[1]
mean_before = bn.moving_mean.numpy().copy()

model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(xb, yb, batch_size=32, epochs=3, validation_split=0.2, verbose=2)

moving_mean_shift = float(np.abs(bn.moving_mean.numpy() - mean_before).max())
print("max change of BN moving mean while frozen:", moving_mean_shift)

# ---------------------------------------------------------------------------
# 3) Fine-tune everything with a very low learning rate
# ---------------------------------------------------------------------------
base_model.trainable = True
model.compile(optimizer=keras.optimizers.Adam(1e-5),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(xb, yb, batch_size=64, epochs=1, validation_split=0.2, verbose=2)

loss, acc = model.evaluate(xb, yb, verbose=0)
print("RESULT", json.dumps({
    "frozen_bn_moving_mean_shift": moving_mean_shift,
    "finetune_loss": float(history.history["loss"][-1]),
    "eval_loss": float(loss),
    "eval_accuracy": float(acc),
}))
