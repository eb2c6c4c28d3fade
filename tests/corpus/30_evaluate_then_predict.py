"""Finish with model.evaluate() and model.predict(), and compute accuracy from predictions.

Pattern: train a softmax classifier, then (1) model.evaluate on the test set,
(2) model.predict on the same set and np.argmax to get classes, (3) an accuracy
and a per-class confusion matrix computed by hand with numpy from those
predictions, (4) a check that both accuracies agree. Uses the wine data with
one-hot labels (to_categorical) and categorical_crossentropy.
Style: in the style of the TensorFlow "Basic classification" tutorial
(site/en/tutorials/keras/classification.ipynb: test_loss, test_acc =
model.evaluate(...); probability_model; predictions = model.predict(test_images);
np.argmax(predictions[0])). Does not seed itself.

releases: 1.15, 2.0, 2.1, 2.2, 2.3, 2.15, 2.16, 2.21
deterministic: yes
"""
import json
import os

import numpy as np
import tensorflow as tf

wine = np.load(os.path.join(os.path.dirname(__file__), "data", "wine.npz"))
x, labels = wine["x"], wine["y"]
x = (x - x.mean(axis=0)) / x.std(axis=0)
test = np.arange(len(x)) % 3 == 0
train_x, test_x = x[~test], x[test]
train_labels, test_labels = labels[~test], labels[test]
train_y = tf.keras.utils.to_categorical(train_labels, 3)
test_y = tf.keras.utils.to_categorical(test_labels, 3)

model = tf.keras.Sequential([
    tf.keras.layers.Dense(24, activation="relu", input_shape=(13,)),
    tf.keras.layers.Dense(3),
])
model.compile(optimizer="adam",
              loss=tf.keras.losses.CategoricalCrossentropy(from_logits=True),
              metrics=["accuracy"])
model.fit(train_x, train_y, epochs=3, batch_size=8, verbose=2)

test_loss, test_acc = model.evaluate(test_x, test_y, verbose=2)
print("\nTest accuracy:", test_acc)

probability_model = tf.keras.Sequential([model, tf.keras.layers.Softmax()])
predictions = probability_model.predict(test_x)
print(predictions[0], "->", np.argmax(predictions[0]), "true", test_labels[0])

predicted = np.argmax(predictions, axis=1)
manual_acc = float(np.mean(predicted == test_labels))
confusion = np.zeros((3, 3), dtype=int)
for t, p in zip(test_labels, predicted):
    confusion[t, p] += 1
print("confusion matrix:\n", confusion)
print("evaluate acc %.4f vs numpy acc %.4f" % (test_acc, manual_acc))

print("RESULT", json.dumps({
    "test_loss": float(test_loss),
    "test_accuracy": float(test_acc),
    "predict_accuracy": manual_acc,
    "mean_max_probability": float(predictions.max(axis=1).mean()),
    "confusion_trace": int(np.trace(confusion)),
}))
