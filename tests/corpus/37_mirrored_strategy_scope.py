"""Model built and compiled under tf.distribute.MirroredStrategy().scope(), on a CPU-only box.

Pattern: the "distributed-ready" script: strategy = tf.distribute.MirroredStrategy()
(one replica here: the CPU), the global batch size scaled by
strategy.num_replicas_in_sync, model creation + compile() inside
`with strategy.scope():`, a tf.data pipeline, fit() and evaluate() outside
the scope.
Style: in the style of the TensorFlow "Distributed training with Keras"
tutorial (site/en/tutorials/distribute/keras.ipynb: BUFFER_SIZE,
BATCH_SIZE_PER_REPLICA * strategy.num_replicas_in_sync, with strategy.scope()).
Seeds with tf.keras.utils.set_random_seed.

releases: 2.15, 2.16, 2.21
deterministic: yes
"""
import json
import os

import numpy as np
import tensorflow as tf

tf.keras.utils.set_random_seed(37)

strategy = tf.distribute.MirroredStrategy()
print("Number of devices: {}".format(strategy.num_replicas_in_sync))

BUFFER_SIZE = 2000
BATCH_SIZE_PER_REPLICA = 32
BATCH_SIZE = BATCH_SIZE_PER_REPLICA * strategy.num_replicas_in_sync

d = np.load(os.path.join(os.path.dirname(__file__), "data", "digits.npz"))
images = (d["x"][..., None] / 16.0).astype("float32")
labels = d["y"]


def scale(image, label):
    return image, label


train_dataset = (tf.data.Dataset.from_tensor_slices((images[:1500], labels[:1500]))
                 .map(scale).cache().shuffle(BUFFER_SIZE).batch(BATCH_SIZE))
eval_dataset = tf.data.Dataset.from_tensor_slices((images[1500:], labels[1500:])).map(scale).batch(BATCH_SIZE)

with strategy.scope():
    model = tf.keras.Sequential([
        tf.keras.layers.Conv2D(16, 3, activation="relu", input_shape=(8, 8, 1)),
        tf.keras.layers.MaxPooling2D(),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(32, activation="relu"),
        tf.keras.layers.Dense(10),
    ])
    model.compile(loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=tf.keras.optimizers.Adam(),
                  metrics=["accuracy"])

history = model.fit(train_dataset, epochs=3, verbose=2)
eval_loss, eval_acc = model.evaluate(eval_dataset, verbose=0)
print("Eval loss: {}, Eval accuracy: {}".format(eval_loss, eval_acc))

print("RESULT", json.dumps({
    "replicas": strategy.num_replicas_in_sync,
    "train_loss": float(history.history["loss"][-1]),
    "eval_loss": float(eval_loss),
    "eval_accuracy": float(eval_acc),
}))
