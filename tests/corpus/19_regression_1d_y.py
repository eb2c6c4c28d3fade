"""Plain tabular regression: Dense layers, MSE loss, MAE metric, y passed as a 1-D array.

Pattern: numpy features (n, 8) and a 1-D target of shape (n,) -- never reshaped
to (n, 1) -- passed straight to fit(); the model outputs (n, 1) and Keras has to
broadcast/squeeze for MSE and MAE. Features normalised with a Normalization
layer adapted on the training features... on the releases that have it; on
TF 1.15 the script standardises with numpy instead. Reports test MSE/MAE and a
few predictions.
Style: in the style of the TensorFlow "Basic regression: Predict fuel
efficiency" tutorial (site/en/tutorials/keras/regression.ipynb: build_and_compile_model,
loss='mean_absolute_error'/'mse', history -> DataFrame replaced by a dict here).
Does not seed itself.

releases: 1.15, 2.0, 2.1, 2.2, 2.3, 2.15, 2.16, 2.21
deterministic: yes
"""
import json
import os

import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers

print(tf.__version__)

raw = np.load(os.path.join(os.path.dirname(__file__), "data", "regression.npz"))
x, y = raw["x"], raw["y"]
print("y shape:", y.shape)  # (1500,) -- 1-D on purpose

train_features, test_features = x[:1200], x[1200:]
train_labels, test_labels = y[:1200], y[1200:]

if hasattr(layers, "Normalization"):
    normalizer = layers.Normalization(axis=-1)
    normalizer.adapt(train_features)
    first_layers = [normalizer]
else:  # TF 1.15 has no Normalization layer
    mu, sigma = train_features.mean(axis=0), train_features.std(axis=0)
    train_features = (train_features - mu) / sigma
    test_features = (test_features - mu) / sigma
    first_layers = []


def build_and_compile_model(first_layers):
    model = keras.Sequential(first_layers + [
        layers.Dense(64, activation="relu", input_shape=(8,)),
        layers.Dense(64, activation="relu"),
        layers.Dense(1),
    ])
    model.compile(loss="mse", optimizer=keras.optimizers.Adam(0.001), metrics=["mae"])
    return model


dnn_model = build_and_compile_model(first_layers)
history = dnn_model.fit(train_features, train_labels, validation_split=0.2,
                        verbose=0, epochs=3, batch_size=32)
hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
print("last epoch:", {k: round(v[-1], 4) for k, v in hist.items()})

test_mse, test_mae = dnn_model.evaluate(test_features, test_labels, verbose=0)
test_predictions = dnn_model.predict(test_features).flatten()
print("first predictions:", np.round(test_predictions[:5], 3), "true:", np.round(test_labels[:5], 3))
manual_mae = float(np.mean(np.abs(test_predictions - test_labels)))

print("RESULT", json.dumps({
    "loss": hist["loss"][-1],
    "val_loss": hist["val_loss"][-1],
    "test_mse": float(test_mse),
    "test_mae": float(test_mae),
    "manual_test_mae": manual_mae,
}))
