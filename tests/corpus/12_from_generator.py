"""Feeding fit() from a Python generator wrapped in tf.data.Dataset.from_generator.

Pattern: a plain Python generator function yields (features, label) pairs one
sample at a time (here: random noisy sine/square/sawtooth waves made on the
fly with numpy); it is wrapped with tf.data.Dataset.from_generator(...,
output_signature=...), batched and repeated, and fit() is given
steps_per_epoch. Validation uses a second, finite generator.
Style: in the style of the tf.data guide's "Consuming Python generators"
section (site/en/guide/data.ipynb) and the many StackOverflow answers that
replaced fit_generator with from_generator. Seeds with np.random.seed only
(the generator draws from numpy's global RNG).

releases: 2.15, 2.16, 2.21
deterministic: yes
"""
import json

import numpy as np
import tensorflow as tf

np.random.seed(99)

SEQ_LEN = 64
N_CLASSES = 3


def make_wave(kind, rng=np.random):
    t = np.linspace(0, 1, SEQ_LEN, dtype=np.float32)
    freq = rng.uniform(2, 6)
    phase = rng.uniform(0, 2 * np.pi)
    if kind == 0:
        w = np.sin(2 * np.pi * freq * t + phase)
    elif kind == 1:
        w = np.sign(np.sin(2 * np.pi * freq * t + phase))
    else:
        w = 2 * ((freq * t + phase / (2 * np.pi)) % 1.0) - 1
    w = w + rng.normal(0, 0.3, size=SEQ_LEN)
    return w.astype(np.float32)[:, None]


def train_gen():
    while True:
        label = np.random.randint(N_CLASSES)
        yield make_wave(label), label


def val_gen():
    rng = np.random.RandomState(7)
    for _ in range(150):
        label = rng.randint(N_CLASSES)
        yield make_wave(label, rng), label


signature = (
    tf.TensorSpec(shape=(SEQ_LEN, 1), dtype=tf.float32),
    tf.TensorSpec(shape=(), dtype=tf.int64),
)
train_ds = tf.data.Dataset.from_generator(train_gen, output_signature=signature)
train_ds = train_ds.batch(32).prefetch(2)
val_ds = tf.data.Dataset.from_generator(val_gen, output_signature=signature).batch(32)

model = tf.keras.Sequential([
    tf.keras.layers.Input(shape=(SEQ_LEN, 1)),
    tf.keras.layers.Conv1D(16, 5, activation="relu"),
    tf.keras.layers.MaxPooling1D(2),
    tf.keras.layers.Conv1D(16, 5, activation="relu"),
    tf.keras.layers.GlobalAveragePooling1D(),
    tf.keras.layers.Dense(N_CLASSES, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(train_ds, steps_per_epoch=30, epochs=3, validation_data=val_ds, verbose=2)

val_loss, val_acc = model.evaluate(val_ds, verbose=0)
print("RESULT", json.dumps({
    "loss": float(history.history["loss"][-1]),
    "accuracy": float(history.history["accuracy"][-1]),
    "val_loss": float(val_loss),
    "val_accuracy": float(val_acc),
}))
