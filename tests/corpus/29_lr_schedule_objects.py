"""Learning-rate schedule objects passed to the optimizer.

Pattern: a built-in tf.keras.optimizers.schedules.ExponentialDecay for one model
and a hand-written LearningRateSchedule subclass (linear warm-up followed by
cosine decay, with __call__(step) and get_config) for a second one; both are
passed as Adam(learning_rate=schedule); the script prints the learning rate
the schedule gives at the optimizer's final iteration count.
Style: in the style of the TensorFlow "Transformer" tutorial's CustomSchedule
(site/en/text/tutorials/transformer.ipynb: class CustomSchedule(LearningRateSchedule))
and keras-io's "Using learning rate schedules" section of the built-in
training guide. Seeds with tf.keras.utils.set_random_seed.

releases: 2.15, 2.16, 2.21
deterministic: yes
"""
import json
import math
import os

import numpy as np
import tensorflow as tf

tf.keras.utils.set_random_seed(29)


class WarmupCosine(tf.keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, peak_lr, warmup_steps, total_steps):
        super().__init__()
        self.peak_lr = peak_lr
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warmup = self.peak_lr * step / self.warmup_steps
        progress = (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps)
        progress = tf.clip_by_value(progress, 0.0, 1.0)
        cosine = 0.5 * self.peak_lr * (1.0 + tf.cos(math.pi * progress))
        return tf.where(step < self.warmup_steps, warmup, cosine)

    def get_config(self):
        return {"peak_lr": self.peak_lr, "warmup_steps": self.warmup_steps,
                "total_steps": self.total_steps}


d = np.load(os.path.join(os.path.dirname(__file__), "data", "digits.npz"))
x = d["x"].reshape(-1, 64).astype("float32") / 16.0
y = d["y"]
x_train, y_train, x_test, y_test = x[:1500], y[:1500], x[1500:], y[1500:]

batch_size, epochs = 32, 3
steps_per_epoch = math.ceil(len(x_train) / batch_size)


def make_model(lr):
    model = tf.keras.Sequential([
        tf.keras.layers.Input(shape=(64,)),
        tf.keras.layers.Dense(64, activation="relu"),
        tf.keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=lr),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


out = {}
schedules = {
    "exp_decay": tf.keras.optimizers.schedules.ExponentialDecay(
        initial_learning_rate=1e-2, decay_steps=steps_per_epoch, decay_rate=0.5, staircase=True),
    "warmup_cosine": WarmupCosine(peak_lr=5e-3, warmup_steps=steps_per_epoch,
                                  total_steps=epochs * steps_per_epoch),
}
for name, schedule in schedules.items():
    model = make_model(schedule)
    history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=2)
    loss, acc = model.evaluate(x_test, y_test, verbose=0)
    iterations = int(model.optimizer.iterations.numpy())
    final_lr = float(schedule(iterations))
    print(f"{name}: {iterations} iterations, final lr {final_lr:.6g}, test acc {acc:.4f}")
    out[f"{name}_loss"] = float(history.history["loss"][-1])
    out[f"{name}_test_acc"] = float(acc)
    out[f"{name}_final_lr"] = final_lr
    out[f"{name}_iterations"] = iterations

print("RESULT", json.dumps(out))
