"""Imbalanced binary classification with class_weight, then with sample_weight.

Pattern: the breast-cancer data is made imbalanced (most of the malignant
class dropped), class weights are computed by hand from the label counts
(total / (2 * count)) and passed as fit(class_weight={0: w0, 1: w1}); a second
model gets the same information as a per-sample sample_weight array instead;
both report precision / recall / AUC.
Style: in the style of the TensorFlow tutorial "Classification on imbalanced
data" (site/en/tutorials/structured_data/imbalanced_data.ipynb: weight_for_0 =
(1 / neg) * (total / 2.0)). Does not seed itself.

releases: 2.15, 2.16, 2.21
deterministic: yes
"""
import json
import os

import numpy as np
import tensorflow as tf
from tensorflow import keras

path = os.path.join(os.path.dirname(__file__), "data", "breast_cancer.npz")
with np.load(path) as data:
    features, labels = data["x"], data["y"]

# make it imbalanced: keep only every 5th malignant (label 0) example
keep = (labels == 1) | (np.arange(len(labels)) % 5 == 0)
features, labels = features[keep], labels[keep]
features = (features - features.mean(axis=0)) / features.std(axis=0)

neg, pos = np.bincount(labels)
total = neg + pos
print(f"Examples:\n    Total: {total}\n    Positive: {pos} ({100 * pos / total:.2f}% of total)\n")

weight_for_0 = (1 / neg) * (total / 2.0)
weight_for_1 = (1 / pos) * (total / 2.0)
class_weight = {0: weight_for_0, 1: weight_for_1}
print(f"Weight for class 0: {weight_for_0:.2f}")
print(f"Weight for class 1: {weight_for_1:.2f}")

METRICS = [
    keras.metrics.BinaryAccuracy(name="accuracy"),
    keras.metrics.Precision(name="precision"),
    keras.metrics.Recall(name="recall"),
    keras.metrics.AUC(name="auc"),
]


def make_model():
    model = keras.Sequential([
        keras.layers.Dense(16, activation="relu", input_shape=(features.shape[-1],)),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                  loss=keras.losses.BinaryCrossentropy(), metrics=METRICS)
    return model


weighted_model = make_model()
weighted_history = weighted_model.fit(features, labels, batch_size=32, epochs=3,
                                      class_weight=class_weight, verbose=2)
cw_eval = weighted_model.evaluate(features, labels, verbose=0, return_dict=True)

sample_weight = np.where(labels == 1, weight_for_1, weight_for_0)
sw_model = make_model()
sw_history = sw_model.fit(features, labels, batch_size=32, epochs=3,
                          sample_weight=sample_weight, verbose=2)
sw_eval = sw_model.evaluate(features, labels, verbose=0, return_dict=True)

result = {"class_weight_train_loss": float(weighted_history.history["loss"][-1]),
          "sample_weight_train_loss": float(sw_history.history["loss"][-1])}
for prefix, ev in (("cw", cw_eval), ("sw", sw_eval)):
    for k in ("loss", "precision", "recall", "auc"):
        result[f"{prefix}_{k}"] = float(ev[k])
print("RESULT", json.dumps(result))
