"""Train, save, load back, check predictions match, continue training.

Pattern: model.save() to a temporary folder in whichever format the running
release supports (native ".keras" on Keras 3, HDF5 ".h5" on tf.keras 2 and
TF 1.15), keras.models.load_model(), compare predictions of the original and
the restored model, then fit() the restored model for more epochs -- its
optimizer state was saved with it, so training resumes rather than restarts.
Style: in the style of the TensorFlow "Save and load models" tutorial
(site/en/tutorials/keras/save_and_load.ipynb: create_model(), model.save(...),
tf.keras.models.load_model, new_model.summary()), with a version switch as
people add when the same script has to run on old and new Keras. Seeds numpy
and TF.

releases: 1.15, 2.0, 2.1, 2.2, 2.3, 2.15, 2.16, 2.21
deterministic: yes
"""
import json
import os
import shutil
import tempfile

import numpy as np
import tensorflow as tf

np.random.seed(11)
if hasattr(tf.random, "set_seed"):
    tf.random.set_seed(11)
else:
    tf.set_random_seed(11)

keras_version = getattr(tf.keras, "__version__", "2")
try:
    import keras
    keras_version = keras.__version__
except ImportError:  # TF 1.15 env has no standalone keras
    pass
print("TensorFlow", tf.__version__, "Keras", keras_version)
ext = ".keras" if keras_version.startswith("3") else ".h5"

d = np.load(os.path.join(os.path.dirname(__file__), "data", "digits.npz"))
train_images = d["x"][:1000].reshape(-1, 64).astype("float32") / 16.0
train_labels = d["y"][:1000]
test_images = d["x"][1000:].reshape(-1, 64).astype("float32") / 16.0
test_labels = d["y"][1000:]


def create_model():
    model = tf.keras.Sequential([
        tf.keras.layers.Dense(128, activation="relu", input_shape=(64,)),
        tf.keras.layers.Dropout(0.2),
        tf.keras.layers.Dense(10),
    ])
    model.compile(optimizer="adam",
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


model = create_model()
model.fit(train_images, train_labels, epochs=2, verbose=2)

tmpdir = tempfile.mkdtemp()
path = os.path.join(tmpdir, "my_model" + ext)
model.save(path)
print("saved to", path)

new_model = tf.keras.models.load_model(path)
new_model.summary()

pred_orig = model.predict(test_images)
pred_new = new_model.predict(test_images)
max_pred_diff = float(np.abs(pred_orig - pred_new).max())
print("max |pred diff| after reload:", max_pred_diff)

loss_before, acc_before = new_model.evaluate(test_images, test_labels, verbose=2)
history = new_model.fit(train_images, train_labels, epochs=2, verbose=2)
loss_after, acc_after = new_model.evaluate(test_images, test_labels, verbose=2)
shutil.rmtree(tmpdir, ignore_errors=True)

print("RESULT", json.dumps({
    "max_pred_diff_after_reload": max_pred_diff,
    "loss_after_reload": float(loss_before),
    "acc_after_reload": float(acc_before),
    "continued_train_loss": float(history.history["loss"][-1]),
    "loss_after_continue": float(loss_after),
    "acc_after_continue": float(acc_after),
}))
