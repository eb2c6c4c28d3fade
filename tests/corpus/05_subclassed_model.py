"""A subclassed keras.Model on the wine data, trained with fit().

Pattern: model defined by subclassing tf.keras.Model with layers created in
__init__ and the forward pass in call() (with a `training` flag used by a
Dropout), plus a Normalization layer adapted on the training data.
Style: in the style of the TensorFlow "Quickstart for experts" tutorial
(site/en/tutorials/quickstart/advanced.ipynb: class MyModel(Model)), seeded
with tf.random.set_seed only.

releases: 2.15, 2.16, 2.21
deterministic: yes
"""
import json
import os

import numpy as np
import tensorflow as tf

tf.random.set_seed(1234)

wine = np.load(os.path.join(os.path.dirname(__file__), "data/wine.npz"))
x_all, y_all = wine["x"], wine["y"]

# deterministic split: every 4th sample goes to the test set
test_mask = np.arange(len(x_all)) % 4 == 0
x_train, y_train = x_all[~test_mask], y_all[~test_mask]
x_test, y_test = x_all[test_mask], y_all[test_mask]


class WineClassifier(tf.keras.Model):
    def __init__(self, num_classes=3):
        super().__init__()
        self.norm = tf.keras.layers.Normalization()
        self.d1 = tf.keras.layers.Dense(32, activation="relu")
        self.dropout = tf.keras.layers.Dropout(0.3)
        self.d2 = tf.keras.layers.Dense(16, activation="relu")
        self.out = tf.keras.layers.Dense(num_classes)

    def call(self, inputs, training=False):
        x = self.norm(inputs)
        x = self.d1(x)
        x = self.dropout(x, training=training)
        x = self.d2(x)
        return self.out(x)


model = WineClassifier()
model.norm.adapt(x_train)

model.compile(
    optimizer=tf.keras.optimizers.Adam(learning_rate=0.01),
    loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
hist = model.fit(x_train, y_train, epochs=3, batch_size=16, verbose=2)

test_loss, test_acc = model.evaluate(x_test, y_test, verbose=2)
print("RESULT", json.dumps({
    "loss": float(hist.history["loss"][-1]),
    "accuracy": float(hist.history["accuracy"][-1]),
    "test_loss": float(test_loss),
    "test_accuracy": float(test_acc),
}))
