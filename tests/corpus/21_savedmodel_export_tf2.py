"""Save a tf.keras model as a SavedModel directory, reload it, keep training.

Pattern: model.save("some_dir") with NO file extension -- the TF 2.x default
that writes a SavedModel folder (saved_model.pb + variables/) -- then
tf.keras.models.load_model("some_dir") and fit() again; also
tf.saved_model.load() of the same folder for serving-style inference through the
"serving_default" signature.
Style: in the style of the TF 2.x "Save and load models" tutorial's SavedModel
section (`!mkdir -p saved_model; model.save('saved_model/my_model')`). Written
for tf.keras 2; Keras 3 refuses an extension-less path.

releases: 2.15
deterministic: yes
breaks: 2.16, 2.21 (ValueError: Invalid filepath extension for saving. Please add either a `.keras` extension for the native Keras format (recommended) or a `.h5` extension. Use `model.export(filepath)` if you want to export a SavedModel for use with TFLite/TFServing/etc.)
"""
import json
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

tf.random.set_seed(21)
np.random.seed(21)

wine = np.load(os.path.join(os.path.dirname(__file__), "data", "wine.npz"))
x = wine["x"]
x = (x - x.mean(0)) / x.std(0)
y = wine["y"]

model = tf.keras.Sequential([
    tf.keras.layers.Dense(16, activation="relu", input_shape=(13,)),
    tf.keras.layers.Dense(3, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=3, batch_size=16, verbose=2)

export_dir = os.path.join(tempfile.mkdtemp(), "saved_model", "my_model")
model.save(export_dir)
print(sorted(os.listdir(export_dir)))

restored = tf.keras.models.load_model(export_dir)
loss0, acc0 = restored.evaluate(x, y, verbose=0)
hist = restored.fit(x, y, epochs=2, batch_size=16, verbose=2)

# "serving" path: load as a generic SavedModel and call the signature
loaded = tf.saved_model.load(export_dir)
infer = loaded.signatures["serving_default"]
out = list(infer(tf.constant(x[:5], dtype=tf.float32)).values())[0].numpy()
serving_vs_keras = float(np.abs(out - model.predict(x[:5], verbose=0)).max())
shutil.rmtree(os.path.dirname(os.path.dirname(export_dir)), ignore_errors=True)

print("RESULT", json.dumps({
    "reloaded_loss": float(loss0),
    "reloaded_accuracy": float(acc0),
    "continued_loss": float(hist.history["loss"][-1]),
    "serving_vs_keras_max_diff": serving_vs_keras,
}))
