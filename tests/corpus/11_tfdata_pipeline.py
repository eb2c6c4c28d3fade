"""Input pipeline with tf.data: shuffle / map / batch / prefetch, then fit on datasets.

Pattern: from_tensor_slices on uint8 images, a map() that casts, scales and
augments (random flip-free jitter with tf.random.uniform noise) with
num_parallel_calls=AUTOTUNE, shuffle with reshuffle_each_iteration, cache(),
batch(), prefetch(AUTOTUNE); separate un-augmented validation dataset; fit()
with validation_data=dataset.
Style: in the style of the TensorFlow tutorial "Load and preprocess images"
(site/en/tutorials/load_data/images.ipynb: configure_for_performance) and the
tf.data performance guide. Seeds with tf.random.set_seed only.

releases: 2.15, 2.16, 2.21
deterministic: no
note: not reproducible even with every seed fixed and one thread: augment() draws with the
  stateful tf.random.uniform inside map(num_parallel_calls=AUTOTUNE), so which element gets
  which random draw depends on thread timing (the same file with a sequential map repeats exactly).
"""
import json
import os

import numpy as np
import tensorflow as tf

tf.random.set_seed(123)

AUTOTUNE = tf.data.AUTOTUNE
BATCH_SIZE = 32

digits = np.load(os.path.join(os.path.dirname(__file__), "data", "digits.npz"))
images, labels = digits["x"], digits["y"]
train_ds = tf.data.Dataset.from_tensor_slices((images[:1400], labels[:1400]))
val_ds = tf.data.Dataset.from_tensor_slices((images[1400:], labels[1400:]))


def preprocess(image, label):
    image = tf.cast(image, tf.float32) / 16.0
    image = tf.expand_dims(image, -1)
    return image, label


def augment(image, label):
    noise = tf.random.uniform(tf.shape(image), -0.05, 0.05)
    return tf.clip_by_value(image + noise, 0.0, 1.0), label


def configure_for_performance(ds, training):
    ds = ds.map(preprocess, num_parallel_calls=AUTOTUNE)
    ds = ds.cache()
    if training:
        ds = ds.shuffle(buffer_size=1000, reshuffle_each_iteration=True)
        ds = ds.map(augment, num_parallel_calls=AUTOTUNE)
    ds = ds.batch(BATCH_SIZE)
    ds = ds.prefetch(buffer_size=AUTOTUNE)
    return ds


train_ds = configure_for_performance(train_ds, training=True)
val_ds = configure_for_performance(val_ds, training=False)

for image_batch, label_batch in train_ds.take(1):
    print(image_batch.shape, label_batch.shape)

num_classes = 10
model = tf.keras.Sequential([
    tf.keras.layers.Conv2D(16, 3, padding="same", activation="relu", input_shape=(8, 8, 1)),
    tf.keras.layers.MaxPooling2D(),
    tf.keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
    tf.keras.layers.Flatten(),
    tf.keras.layers.Dense(64, activation="relu"),
    tf.keras.layers.Dense(num_classes),
])
model.compile(
    optimizer="adam",
    loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
history = model.fit(train_ds, validation_data=val_ds, epochs=3, verbose=2)

print("RESULT", json.dumps({
    "loss": history.history["loss"][-1],
    "accuracy": history.history["accuracy"][-1],
    "val_loss": history.history["val_loss"][-1],
    "val_accuracy": history.history["val_accuracy"][-1],
}))
