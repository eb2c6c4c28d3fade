"""Conv1D forecaster on a (generated) noisy sine series.

Pattern: one long univariate series is standardised with the training part's
mean/std, cut into (window -> next value) pairs with
keras.utils.timeseries_dataset_from_array (targets offset by the window length),
and a small Conv1D stack regresses the next value with MSE; the baseline
"repeat the last value" is printed next to the model for comparison.
Style: in the style of keras-io's timeseries examples
(examples/timeseries/timeseries_weather_forecasting.py: timeseries_dataset_from_array
with sequence_length / targets=data[past:]) and the TF "Time series forecasting"
tutorial's conv model. Seeds with tf.keras.utils.set_random_seed.

releases: 2.15, 2.16, 2.21
deterministic: yes
"""
import json
import os

import numpy as np
import tensorflow as tf
from tensorflow import keras

keras.utils.set_random_seed(17)

series = np.load(os.path.join(os.path.dirname(__file__), "data", "sine_series.npz"))["series"]
split = int(0.8 * len(series))
mean, std = series[:split].mean(), series[:split].std()
series = (series - mean) / std
data = series[:, None]  # (time, features)

sequence_length = 48
batch_size = 64

dataset_train = keras.utils.timeseries_dataset_from_array(
    data[:split],
    targets=series[sequence_length:split],
    sequence_length=sequence_length,
    batch_size=batch_size,
    shuffle=True,
    seed=17,
)
dataset_val = keras.utils.timeseries_dataset_from_array(
    data[split:],
    targets=series[split + sequence_length:],
    sequence_length=sequence_length,
    batch_size=batch_size,
)

for batch in dataset_train.take(1):
    inputs, targets = batch
print("Input shape:", inputs.numpy().shape)
print("Target shape:", targets.numpy().shape)

inputs = keras.layers.Input(shape=(sequence_length, 1))
x = keras.layers.Conv1D(filters=32, kernel_size=5, activation="relu")(inputs)
x = keras.layers.Conv1D(filters=32, kernel_size=5, activation="relu", dilation_rate=2)(x)
x = keras.layers.GlobalAveragePooling1D()(x)
x = keras.layers.Dense(16, activation="relu")(x)
outputs = keras.layers.Dense(1)(x)

model = keras.Model(inputs=inputs, outputs=outputs)
model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.003), loss="mse", metrics=["mae"])
model.summary()

history = model.fit(dataset_train, epochs=3, validation_data=dataset_val, verbose=2)

# naive baseline: predict the last value of each window
naive = []
for x_batch, y_batch in dataset_val:
    naive.append(np.abs(x_batch.numpy()[:, -1, 0] - y_batch.numpy()))
naive_mae = float(np.concatenate(naive).mean())
val_mse, val_mae = model.evaluate(dataset_val, verbose=0)
print(f"val MAE {val_mae:.4f} vs naive MAE {naive_mae:.4f}")

print("RESULT", json.dumps({
    "loss": float(history.history["loss"][-1]),
    "val_mse": float(val_mse),
    "val_mae": float(val_mae),
    "naive_mae": naive_mae,
}))
