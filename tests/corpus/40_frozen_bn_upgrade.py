"""Fine-tuning a head on a frozen base that contains BatchNormalization, run unchanged on TF 1.15 and TF 2.

Pattern: nested model / transfer learning with a frozen base (base.trainable = False,
the base called as a layer of the new model), written once with APIs that exist in
both 1.15 and 2.x (tf.compat.v1.set_random_seed, tf.keras, learning_rate=). The
user upgraded from 1.15 to 2.0 and the fine-tuned accuracy changed (keras-team/keras#13892):
in 1.x a frozen BatchNormalization still normalises with the batch's statistics during
fit, from 2.0 on it runs in inference mode with its moving statistics.
Style: a StackOverflow "accuracy changed after upgrading to TF 2.0" question: functional
API, a base model reused as a layer, the optimizer as an object, verbose=0, print at the end.

releases: 1.15, 2.0, 2.1, 2.2, 2.3, 2.15, 2.16, 2.21
deterministic: yes
"""
import json
import os

import numpy as np
import tensorflow as tf

tf.compat.v1.set_random_seed(1)
np.random.seed(1)

data = np.load(os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "digits.npz"))
x = data["x"].astype("float32").reshape(-1, 8, 8, 1) / 16.0
y = data["y"]

layers = tf.keras.layers
inputs = layers.Input(shape=(8, 8, 1))
h = layers.Conv2D(16, 3, padding="same")(inputs)
h = layers.BatchNormalization()(h)
h = layers.Activation("relu")(h)
h = layers.Conv2D(32, 3, padding="same")(h)
h = layers.BatchNormalization()(h)
h = layers.Activation("relu")(h)
h = layers.GlobalAveragePooling2D()(h)
base = tf.keras.Model(inputs, h, name="base")

# pretrain the base with a throwaway head
pretrain = tf.keras.Model(inputs, layers.Dense(10, activation="softmax")(h))
pretrain.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
pretrain.fit(x[:800], y[:800], epochs=5, batch_size=32, verbose=0)

# freeze the base, put a new head on top, fine-tune
base.trainable = False
new_inputs = layers.Input(shape=(8, 8, 1))
outputs = layers.Dense(10, activation="softmax")(base(new_inputs))
model = tf.keras.Model(new_inputs, outputs)
model.compile(
    optimizer=tf.keras.optimizers.Adam(learning_rate=0.01),
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
)
history = model.fit(x[800:1600], y[800:1600], epochs=3, batch_size=32, verbose=0)

test_loss, test_acc = model.evaluate(x[1600:], y[1600:], verbose=0)
print("RESULT " + json.dumps({
    "finetune_loss": float(history.history["loss"][-1]),
    "test_loss": float(test_loss),
    "test_accuracy": float(test_acc),
}))
