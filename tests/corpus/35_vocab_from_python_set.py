"""Hand-rolled tokenizer whose vocabulary order comes from a Python set().

Pattern: text preprocessing done in plain Python before Keras: lower-case,
split, collect `set(all_words)`, and number the words by iterating over that
set -- so which id each word gets depends on Python's string-hash
randomisation (PYTHONHASHSEED), not on any TF/numpy/random seed. Then
Embedding + GlobalAveragePooling1D + Dense for a 3-topic classification of
generated sentences. The script seeds TF, numpy and `random` carefully,
and is still not reproducible run to run -- a classic.
Style: in the style of beginner NLP tutorials and Kaggle notebooks that build
`word2idx = {w: i + 1 for i, w in enumerate(set(words))}` before Keras
(and of StackOverflow questions "results differ every run despite set_seed").

releases: 2.15, 2.16, 2.21
deterministic: no
"""
import json
import random

import numpy as np
import tensorflow as tf

random.seed(35)
np.random.seed(35)
tf.random.set_seed(35)

TOPICS = {
    0: ["goal", "match", "team", "coach", "league", "score", "season", "striker"],
    1: ["stock", "market", "bank", "profit", "shares", "investor", "price", "trade"],
    2: ["cell", "protein", "gene", "virus", "study", "lab", "species", "enzyme"],
}
COMMON = ["the", "a", "of", "in", "and", "was", "new", "report", "said", "today", "this"]

sentences, labels = [], []
for _ in range(900):
    topic = random.randrange(3)
    words = random.choices(COMMON, k=random.randint(4, 10)) + \
        random.choices(TOPICS[topic], k=random.randint(1, 3))
    random.shuffle(words)
    sentences.append(" ".join(words).capitalize() + ".")
    labels.append(topic)
labels = np.array(labels)

# --- tokenizer --------------------------------------------------------------
tokenized = [s.lower().replace(".", "").split() for s in sentences]
all_words = [w for sent in tokenized for w in sent]
vocab = set(all_words)
word2idx = {w: i + 1 for i, w in enumerate(vocab)}  # 0 = padding
maxlen = max(len(s) for s in tokenized)
X = np.zeros((len(tokenized), maxlen), dtype="int32")
for i, sent in enumerate(tokenized):
    ids = [word2idx[w] for w in sent]
    X[i, :len(ids)] = ids
print("vocab size", len(word2idx), "id of 'the':", word2idx["the"])

model = tf.keras.Sequential([
    tf.keras.layers.Embedding(len(word2idx) + 1, 16),
    tf.keras.layers.GlobalAveragePooling1D(),
    tf.keras.layers.Dense(16, activation="relu"),
    tf.keras.layers.Dense(3, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(X[:700], labels[:700], epochs=3, batch_size=32, verbose=2)
loss, acc = model.evaluate(X[700:], labels[700:], verbose=0)

print("RESULT", json.dumps({
    "id_of_the": word2idx["the"],
    "train_loss": float(history.history["loss"][-1]),
    "test_loss": float(loss),
    "test_accuracy": float(acc),
}))
