"""TF 1.x tf.keras in graph mode: Keras on top of the default graph and session.

Pattern: TF 1.15 without enable_eager_execution(); a tf.keras functional model
is built in the default graph; the script grabs the Keras session with
tf.keras.backend.get_session() to look at tensors, uses the old `lr` optimizer
argument and "acc" metric name, trains with fit(), then with train_on_batch in
a manual epoch loop, and finally evaluates -- all in graph mode.
Style: in the style of TF 1.x-era Keras scripts and the TF 1.15 Keras guide
(tf.keras.backend.get_session(), K.get_value(model.optimizer.lr), 'acc'), with
tf.set_random_seed.

releases: 1.15
deterministic: yes
breaks: 2.15, 2.16, 2.21 (AttributeError: module 'tensorflow' has no attribute 'set_random_seed' -- TF 1 API)
"""
from __future__ import print_function

import json
import os

import numpy as np
import tensorflow as tf
from tensorflow.keras import backend as K
from tensorflow.keras.layers import Dense, Dropout, Input
from tensorflow.keras.models import Model

tf.set_random_seed(15)
np.random.seed(15)
print("executing eagerly:", tf.executing_eagerly())

data = np.load(os.path.join(os.path.dirname(__file__), "data", "breast_cancer.npz"))
x, y = data["x"], data["y"].astype("float32")
x = (x - x.mean(0)) / (x.std(0) + 1e-7)
perm = np.random.permutation(len(x))
x, y = x[perm], y[perm]
x_train, y_train, x_test, y_test = x[:450], y[:450], x[450:], y[450:]

inp = Input(shape=(30,))
h = Dense(32, activation="relu")(inp)
h = Dropout(0.25)(h)
h = Dense(16, activation="relu")(h)
out = Dense(1, activation="sigmoid")(h)
model = Model(inputs=inp, outputs=out)
model.compile(optimizer=tf.keras.optimizers.Adam(lr=0.002), loss="binary_crossentropy",
              metrics=["acc"])

sess = K.get_session()
print("graph ops:", len(sess.graph.get_operations()))

hist = model.fit(x_train, y_train, batch_size=32, epochs=2, verbose=2,
                 validation_data=(x_test, y_test))

# a couple of epochs by hand, the way people did before fit() had callbacks they trusted
K.set_value(model.optimizer.lr, 0.001)
batch_size = 32
for epoch in range(2):
    idx = np.random.permutation(len(x_train))
    losses = []
    for start in range(0, len(idx), batch_size):
        b = idx[start:start + batch_size]
        loss, acc = model.train_on_batch(x_train[b], y_train[b])
        losses.append(loss)
    print("manual epoch %d: loss %.4f lr %.4g" % (epoch, np.mean(losses), K.get_value(model.optimizer.lr)))

test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
print("RESULT", json.dumps({
    "fit_loss": float(hist.history["loss"][-1]),
    "fit_val_acc": float(hist.history["val_acc"][-1]),
    "manual_loss": float(np.mean(losses)),
    "test_loss": float(test_loss),
    "test_acc": float(test_acc),
}))
