"""Several models and several fit() calls in one script, ending with a small GAN.

Pattern: one script trains two ordinary classifiers (an MLP, then a small CNN)
on digits, then builds a generator and a discriminator and trains a GAN whose
keras.Model subclass overrides compile() (two optimizers + a loss_fn) and
train_step(); the GAN's train_step draws its own noise with tf.random.normal.
Style: in the style of the end of keras-io's "Customizing what happens in fit()"
guide ("Wrapping up: an end-to-end GAN example"), scaled to 8x8 digits; the
two warm-up models are the kind of thing people keep in the same notebook.
Seeds with tf.random.set_seed only.

releases: 2.15, 2.16, 2.21
deterministic: yes
"""
import json
import os

import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers

tf.random.set_seed(2020)

with np.load(os.path.join(os.path.dirname(__file__), "data", "digits.npz")) as f:
    images = f["x"].astype("float32") / 16.0
    labels = f["y"]

results = {}

# --- model 1: plain MLP ------------------------------------------------------
mlp = keras.Sequential([
    keras.Input(shape=(8, 8)),
    layers.Flatten(),
    layers.Dense(64, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
mlp.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
mlp.fit(images[:1500], labels[:1500], epochs=2, batch_size=32, verbose=0)
results["mlp_loss"], results["mlp_acc"] = map(float, mlp.evaluate(images[1500:], labels[1500:], verbose=0))

# --- model 2: small CNN ------------------------------------------------------
cnn = keras.Sequential([
    keras.Input(shape=(8, 8, 1)),
    layers.Conv2D(16, 3, activation="relu"),
    layers.Flatten(),
    layers.Dense(10, activation="softmax"),
])
cnn.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
cnn.fit(images[:1500, ..., None], labels[:1500], epochs=2, batch_size=32, verbose=0)
results["cnn_loss"], results["cnn_acc"] = map(float, cnn.evaluate(images[1500:, ..., None], labels[1500:], verbose=0))
print("classifiers:", results)

# --- model 3: a GAN ----------------------------------------------------------
discriminator = keras.Sequential(
    [
        keras.Input(shape=(8, 8, 1)),
        layers.Conv2D(32, (3, 3), strides=(2, 2), padding="same"),
        layers.LeakyReLU(alpha=0.2),
        layers.Conv2D(64, (3, 3), strides=(2, 2), padding="same"),
        layers.LeakyReLU(alpha=0.2),
        layers.GlobalMaxPooling2D(),
        layers.Dense(1),
    ],
    name="discriminator",
)

latent_dim = 16
generator = keras.Sequential(
    [
        keras.Input(shape=(latent_dim,)),
        layers.Dense(2 * 2 * 64),
        layers.LeakyReLU(alpha=0.2),
        layers.Reshape((2, 2, 64)),
        layers.Conv2DTranspose(64, (4, 4), strides=(2, 2), padding="same"),
        layers.LeakyReLU(alpha=0.2),
        layers.Conv2DTranspose(32, (4, 4), strides=(2, 2), padding="same"),
        layers.LeakyReLU(alpha=0.2),
        layers.Conv2D(1, (3, 3), padding="same", activation="sigmoid"),
    ],
    name="generator",
)


class GAN(keras.Model):
    def __init__(self, discriminator, generator, latent_dim):
        super(GAN, self).__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super(GAN, self).compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    def train_step(self, real_images):
        if isinstance(real_images, tuple):
            real_images = real_images[0]
        batch_size = tf.shape(real_images)[0]
        random_latent_vectors = tf.random.normal(shape=(batch_size, self.latent_dim))
        generated_images = self.generator(random_latent_vectors)
        combined_images = tf.concat([generated_images, real_images], axis=0)

        # real -> 0, fake -> 1, plus a bit of label noise
        labels = tf.concat([tf.ones((batch_size, 1)), tf.zeros((batch_size, 1))], axis=0)
        labels += 0.05 * tf.random.uniform(tf.shape(labels))

        with tf.GradientTape() as tape:
            predictions = self.discriminator(combined_images)
            d_loss = self.loss_fn(labels, predictions)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))

        random_latent_vectors = tf.random.normal(shape=(batch_size, self.latent_dim))
        misleading_labels = tf.zeros((batch_size, 1))
        with tf.GradientTape() as tape:
            predictions = self.discriminator(self.generator(random_latent_vectors))
            g_loss = self.loss_fn(misleading_labels, predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        return {"d_loss": d_loss, "g_loss": g_loss}


dataset = tf.data.Dataset.from_tensor_slices(images[..., None])
dataset = dataset.shuffle(buffer_size=1024).batch(64)

gan = GAN(discriminator=discriminator, generator=generator, latent_dim=latent_dim)
gan.compile(
    d_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
    g_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
    loss_fn=keras.losses.BinaryCrossentropy(from_logits=True),
)
history = gan.fit(dataset, epochs=2, verbose=2)

results["d_loss"] = float(history.history["d_loss"][-1])
results["g_loss"] = float(history.history["g_loss"][-1])
print("RESULT", json.dumps(results))
