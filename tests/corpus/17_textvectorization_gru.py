"""Raw strings -> TextVectorization -> Embedding + bidirectional GRU classifier.

Pattern: the text is generated as Python strings (made-up words for "good"
and "bad" plus filler), put in a tf.data.Dataset, a TextVectorization layer is
adapt()ed on the text-only dataset and applied in the tf.data pipeline with
map() (the "vectorize the data before the model" option); then Embedding +
Bidirectional(GRU) + Dense(1) with from_logits=True.
Style: in the style of keras-io's "Text classification from scratch" example
(examples/nlp/text_classification_from_scratch.py); the logits metric
BinaryAccuracy(threshold=0.0) is the one of the TF "Basic text classification"
tutorial. Seeds with
tf.keras.utils.set_random_seed.

releases: 2.15, 2.21
deterministic: yes
breaks: 2.16 (ValueError: Invalid value for argument `threshold`. Expected a value in interval (0, 1). Received: threshold=0.0 -- Keras 3.4's BinaryAccuracy; 3.13 accepts it again)
"""
import json
import random
import string

import numpy as np
import tensorflow as tf
from tensorflow.keras import layers

tf.keras.utils.set_random_seed(2024)

POS = ["great", "superb", "lovely", "brilliant", "enjoyable", "moving"]
NEG = ["awful", "boring", "dull", "terrible", "messy", "weak"]
FILLER = ["the", "film", "plot", "was", "and", "actors", "a", "really", "story", "music",
          "but", "quite", "ending", "scene", "very", "it"]


def fake_review():
    label = random.randint(0, 1)
    words = random.choices(FILLER, k=random.randint(6, 20))
    strong = random.choices(POS if label else NEG, k=random.randint(1, 3))
    weak = random.choices(NEG if label else POS, k=random.randint(0, 1))
    for w in strong + weak:
        words.insert(random.randrange(len(words) + 1), w)
    text = " ".join(words).capitalize() + random.choice([".", "!", "..."])
    if random.random() < 0.2:
        text += " <br /><br />"
    return text, label


texts, labels = zip(*[fake_review() for _ in range(800)])
print(texts[0], labels[0])
raw_train_ds = tf.data.Dataset.from_tensor_slices((list(texts[:640]), list(labels[:640]))).batch(32)
raw_val_ds = tf.data.Dataset.from_tensor_slices((list(texts[640:]), list(labels[640:]))).batch(32)


def custom_standardization(input_data):
    lowercase = tf.strings.lower(input_data)
    stripped_html = tf.strings.regex_replace(lowercase, "<br />", " ")
    return tf.strings.regex_replace(stripped_html, f"[{string.punctuation}]", "")


max_features = 100
embedding_dim = 16
sequence_length = 30

vectorize_layer = layers.TextVectorization(
    standardize=custom_standardization,
    max_tokens=max_features,
    output_mode="int",
    output_sequence_length=sequence_length,
)
text_ds = raw_train_ds.map(lambda x, y: x)
vectorize_layer.adapt(text_ds)
print("vocabulary size:", len(vectorize_layer.get_vocabulary()))


def vectorize_text(text, label):
    text = tf.expand_dims(text, -1)
    return vectorize_layer(text), label


train_ds = raw_train_ds.map(vectorize_text).cache().prefetch(buffer_size=10)
val_ds = raw_val_ds.map(vectorize_text).cache().prefetch(buffer_size=10)

inputs = tf.keras.Input(shape=(None,), dtype="int64")
x = layers.Embedding(max_features, embedding_dim)(inputs)
x = layers.Dropout(0.2)(x)
x = layers.Bidirectional(layers.GRU(16))(x)
predictions = layers.Dense(1, name="predictions")(x)
model = tf.keras.Model(inputs, predictions)
model.compile(loss=tf.keras.losses.BinaryCrossentropy(from_logits=True), optimizer="adam",
              metrics=[tf.keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")])

history = model.fit(train_ds, validation_data=val_ds, epochs=3, verbose=2)
val_loss, val_acc = model.evaluate(val_ds, verbose=0)
print("RESULT", json.dumps({
    "vocab_size": len(vectorize_layer.get_vocabulary()),
    "loss": float(history.history["loss"][-1]),
    "val_loss": float(val_loss),
    "val_accuracy": float(val_acc),
}))
