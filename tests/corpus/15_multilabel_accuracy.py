"""Multi-label text classifier: sigmoid outputs, binary_crossentropy, metrics=["accuracy"].

Pattern: every sample can carry several of 4 labels; the model ends in
Dense(4, activation="sigmoid") trained with binary_crossentropy and the metric
given only as the string "accuracy" -- which Keras resolves to a different
accuracy depending on the release (the subject of tensorflow/tensorflow#41114,
"multilabel accuracy is lower in 2.2.0 than 2.1.0 for same code"). The script
also computes exact-match and per-label accuracy from predict() by hand.
Style: a reproduction in the style of tensorflow#41114: toy token sequences,
Embedding + GlobalAveragePooling1D, plain tf.keras imports, np arrays. Seeds
only numpy (as the issue's code did not seed at all).

releases: 1.15, 2.0, 2.1, 2.2, 2.3, 2.15, 2.16, 2.21
deterministic: yes
"""
import json

import numpy as np
import tensorflow as tf
from tensorflow.keras.models import Sequential
from tensorflow.keras.layers import Dense, Embedding, GlobalAveragePooling1D

np.random.seed(41114)

MAXLEN = 7
MAXFEATURES = 4
NUM_CLASSES = 4

# token ids 1..4, 0 = padding; label k is on when token k+1 occurs in the row
X = np.zeros((400, MAXLEN), dtype="int32")
for i in range(len(X)):
    n = np.random.randint(0, MAXLEN + 1)
    X[i, :n] = np.random.randint(1, MAXFEATURES + 1, size=n)
Y = np.zeros((len(X), NUM_CLASSES), dtype="int32")
for k in range(NUM_CLASSES):
    Y[:, k] = (X == k + 1).any(axis=1)

model = Sequential()
model.add(Embedding(MAXFEATURES + 1, 50, input_length=MAXLEN))
model.add(GlobalAveragePooling1D())
model.add(Dense(NUM_CLASSES, activation="sigmoid"))
model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])

history = model.fit(X, Y, batch_size=16, epochs=3, verbose=2)
loss, acc = model.evaluate(X, Y, verbose=0)

probs = model.predict(X)
pred = (probs > 0.5).astype("int32")
per_label_acc = float((pred == Y).mean())
exact_match = float((pred == Y).all(axis=1).mean())
print("keras 'accuracy': %.4f  per-label: %.4f  exact match: %.4f" % (acc, per_label_acc, exact_match))

hist_acc_key = "accuracy" if "accuracy" in history.history else "acc"
print("RESULT", json.dumps({
    "loss": float(loss),
    "keras_accuracy": float(acc),
    "train_accuracy": float(history.history[hist_acc_key][-1]),
    "per_label_accuracy": per_label_acc,
    "exact_match_accuracy": exact_match,
}))
