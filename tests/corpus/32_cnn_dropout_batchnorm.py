"""Small CNN with BatchNormalization and Dropout on 8x8 digits.

Pattern: Conv2D -> BatchNormalization -> ReLU blocks, MaxPooling, Dropout
between blocks and before the classifier, one-hot labels with
categorical_crossentropy, fit with batch_size=128-style settings scaled down;
reports train (training-mode BN/Dropout) vs. evaluate (inference mode) numbers,
which is where BN/Dropout make them differ.
Style: in the style of keras-io's "Simple MNIST convnet" example
(examples/vision/mnist_convnet.py: num_classes, input_shape, keras.utils.to_categorical,
model.summary(), score = model.evaluate(...); print("Test loss:", score[0])),
with BatchNormalization(momentum=0.9) added, as people do when the default
0.99 leaves the moving statistics far off after a few hundred steps. Does not
seed itself.

releases: 2.15, 2.16, 2.21
deterministic: yes
"""
import json
import os

import numpy as np
from tensorflow import keras
from tensorflow.keras import layers

# Model / data parameters
num_classes = 10
input_shape = (8, 8, 1)

d = np.load(os.path.join(os.path.dirname(__file__), "data", "digits.npz"))
x_train, y_train = d["x"][:1400], d["y"][:1400]
x_test, y_test = d["x"][1400:], d["y"][1400:]

# Scale images to the [0, 1] range
x_train = x_train.astype("float32") / 16
x_test = x_test.astype("float32") / 16
# Make sure images have shape (8, 8, 1)
x_train = np.expand_dims(x_train, -1)
x_test = np.expand_dims(x_test, -1)
print("x_train shape:", x_train.shape)
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")

# convert class vectors to binary class matrices
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

model = keras.Sequential(
    [
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), padding="same"),
        layers.BatchNormalization(momentum=0.9),
        layers.Activation("relu"),
        layers.Conv2D(32, kernel_size=(3, 3), padding="same"),
        layers.BatchNormalization(momentum=0.9),
        layers.Activation("relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Dropout(0.25),
        layers.Conv2D(64, kernel_size=(3, 3), padding="same"),
        layers.BatchNormalization(momentum=0.9),
        layers.Activation("relu"),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ]
)
model.summary()

batch_size = 32
epochs = 4
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1,
                    verbose=2)

score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])

print("RESULT", json.dumps({
    "train_loss": float(history.history["loss"][-1]),
    "train_accuracy": float(history.history["accuracy"][-1]),
    "val_accuracy": float(history.history["val_accuracy"][-1]),
    "test_loss": float(score[0]),
    "test_accuracy": float(score[1]),
}))
