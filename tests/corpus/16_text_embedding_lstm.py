"""Sentiment-style classifier: Embedding + LSTM on padded token-id sequences.

Pattern: integer-encoded "reviews" (generated token ids, 0 = padding) are padded
with pad_sequences(maxlen=...) and fed to Embedding(mask_zero=True) ->
LSTM -> Dense(1, sigmoid); binary_crossentropy; a held-out split from
fit(validation_split=0.2). Nothing here is TF2-only, so the same file runs on
TF 1.15's tf.keras too.
Style: in the style of the classic IMDB LSTM example (keras examples/imdb_lstm.py,
"Text classification with an RNN" tutorial), with tf.keras imports. Seeds with
np.random.seed and the TF seed call of whichever TF it runs on.

releases: 1.15, 2.0, 2.1, 2.2, 2.3, 2.15, 2.16, 2.21
deterministic: yes
"""
import json
import os

import numpy as np
import tensorflow as tf
from tensorflow.keras import layers
from tensorflow.keras.models import Sequential
from tensorflow.keras.preprocessing.sequence import pad_sequences

np.random.seed(1337)
if hasattr(tf.random, "set_seed"):
    tf.random.set_seed(1337)
else:
    tf.set_random_seed(1337)

max_features = 200  # vocabulary size
maxlen = 32          # cut texts after this number of words
batch_size = 32

f = np.load(os.path.join(os.path.dirname(__file__), "data", "toy_reviews.npz"))
# back to ragged python lists, as if they came from a tokenizer
sequences = [list(row[row > 0]) for row in f["tokens"]]
labels = f["labels"]
print(len(sequences), "sequences, average length", np.mean([len(s) for s in sequences]))

x_train = pad_sequences(sequences[:1000], maxlen=maxlen)
x_test = pad_sequences(sequences[1000:], maxlen=maxlen)
y_train, y_test = labels[:1000], labels[1000:]
print("x_train shape:", x_train.shape)

model = Sequential()
model.add(layers.Embedding(max_features, 32, mask_zero=True))
model.add(layers.LSTM(32, dropout=0.2))
model.add(layers.Dense(1, activation="sigmoid"))
model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])

history = model.fit(x_train, y_train, batch_size=batch_size, epochs=3,
                    validation_split=0.2, verbose=2)
score, acc = model.evaluate(x_test, y_test, batch_size=batch_size, verbose=0)
print("Test score:", score)
print("Test accuracy:", acc)

print("RESULT", json.dumps({
    "loss": float(history.history["loss"][-1]),
    "val_loss": float(history.history["val_loss"][-1]),
    "test_loss": float(score),
    "test_accuracy": float(acc),
}))
