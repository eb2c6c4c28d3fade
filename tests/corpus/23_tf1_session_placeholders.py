"""A TF 1.x script with placeholders, variables, an optimizer and a Session loop.

Pattern: pure TF 1.x low-level code on TF 1.15: tf.placeholder for inputs and
labels, weights as tf.Variable(tf.truncated_normal(...)), a two-layer softmax
classifier written with tf.matmul, tf.nn.softmax_cross_entropy_with_logits_v2,
tf.train.AdamOptimizer().minimize(loss), tf.global_variables_initializer(),
and a `with tf.Session() as sess:` minibatch loop with feed_dict; accuracy via
tf.equal(tf.argmax(...)).
Style: in the style of the TF 1.x "MNIST for ML beginners / Deep MNIST for experts"
tutorials and countless scripts derived from them, on the digits data.
Seeds with tf.set_random_seed and np.random.seed.

releases: 1.15
deterministic: yes
breaks: 2.15, 2.16, 2.21 (AttributeError: module 'tensorflow' has no attribute 'set_random_seed' -- TF 1 API)
"""
from __future__ import print_function

import json
import os

import numpy as np
import tensorflow as tf

tf.set_random_seed(0)
np.random.seed(0)

d = np.load(os.path.join(os.path.dirname(__file__), "data", "digits.npz"))
images = d["x"].reshape(-1, 64).astype(np.float32) / 16.0
labels = np.eye(10, dtype=np.float32)[d["y"]]
train_x, train_y = images[:1500], labels[:1500]
test_x, test_y = images[1500:], labels[1500:]

learning_rate = 0.005
training_epochs = 5
batch_size = 50
n_hidden = 64

x = tf.placeholder(tf.float32, [None, 64], name="x")
y_ = tf.placeholder(tf.float32, [None, 10], name="y_")

W1 = tf.Variable(tf.truncated_normal([64, n_hidden], stddev=0.1))
b1 = tf.Variable(tf.constant(0.1, shape=[n_hidden]))
W2 = tf.Variable(tf.truncated_normal([n_hidden, 10], stddev=0.1))
b2 = tf.Variable(tf.constant(0.1, shape=[10]))

hidden = tf.nn.relu(tf.matmul(x, W1) + b1)
logits = tf.matmul(hidden, W2) + b2

cross_entropy = tf.reduce_mean(
    tf.nn.softmax_cross_entropy_with_logits_v2(labels=y_, logits=logits))
train_step = tf.train.AdamOptimizer(learning_rate).minimize(cross_entropy)

correct_prediction = tf.equal(tf.argmax(logits, 1), tf.argmax(y_, 1))
accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))

with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    for epoch in range(training_epochs):
        perm = np.random.permutation(len(train_x))
        avg_cost = 0.0
        total_batch = len(train_x) // batch_size
        for i in range(total_batch):
            idx = perm[i * batch_size:(i + 1) * batch_size]
            _, c = sess.run([train_step, cross_entropy],
                            feed_dict={x: train_x[idx], y_: train_y[idx]})
            avg_cost += c / total_batch
        print("Epoch:", "%04d" % (epoch + 1), "cost=", "{:.9f}".format(avg_cost))

    test_acc, test_loss = sess.run([accuracy, cross_entropy], feed_dict={x: test_x, y_: test_y})
    print("Accuracy:", test_acc)

print("RESULT", json.dumps({
    "last_epoch_cost": float(avg_cost),
    "test_loss": float(test_loss),
    "test_accuracy": float(test_acc),
}))
