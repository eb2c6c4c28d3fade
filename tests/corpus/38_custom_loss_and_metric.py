"""Custom loss and metric written as plain functions, plus a Lambda layer.

Pattern: `def weighted_mse(y_true, y_pred)` / `def r_squared(y_true, y_pred)`
using tf.keras.backend (K.mean, K.square, K.sum, K.epsilon) passed directly to
compile(loss=..., metrics=[...]); a Lambda layer that rescales the output;
regression on the tabular data, with y reshaped to (n, 1). Runs on TF 1.15 as
well as TF 2 since it only uses the backend functions both have.
Style: in the style of StackOverflow answers about custom Keras metrics
("How to use R^2 as a metric in Keras": SS_res / SS_tot with K.sum and K.epsilon()).
Does not seed itself.

releases: 1.15, 2.0, 2.1, 2.2, 2.3, 2.15, 2.16, 2.21
deterministic: yes
"""
import json
import os

import numpy as np
import tensorflow as tf
from tensorflow.keras import backend as K
from tensorflow.keras.layers import Dense, Input, Lambda
from tensorflow.keras.models import Model


def weighted_mse(y_true, y_pred):
    # penalise under-prediction twice as much as over-prediction
    err = y_true - y_pred
    weight = 1.0 + K.cast(K.greater(err, 0.0), K.floatx())
    return K.mean(weight * K.square(err), axis=-1)


def r_squared(y_true, y_pred):
    ss_res = K.sum(K.square(y_true - y_pred))
    ss_tot = K.sum(K.square(y_true - K.mean(y_true)))
    return 1 - ss_res / (ss_tot + K.epsilon())


npz = np.load(os.path.join(os.path.dirname(__file__), "data", "regression.npz"))
X, Y = npz["x"], npz["y"].reshape(-1, 1)
y_scale = float(Y.std())

inp = Input(shape=(8,))
h = Dense(32, activation="tanh")(inp)
h = Dense(32, activation="tanh")(h)
out = Dense(1)(h)
out = Lambda(lambda t: t * y_scale)(out)
model = Model(inp, out)
model.compile(optimizer="adam", loss=weighted_mse, metrics=[r_squared, "mae"])

history = model.fit(X[:1200], Y[:1200], epochs=3, batch_size=32, verbose=2)
scores = model.evaluate(X[1200:], Y[1200:], verbose=0)
print(dict(zip(model.metrics_names, scores)))

print("RESULT", json.dumps({
    "train_loss": float(history.history["loss"][-1]),
    "test_loss": float(scores[0]),
    "test_r_squared": float(scores[1]),
    "test_mae": float(scores[2]),
}))
