"""A TF1-style graph/Session script kept alive on TF2 via tensorflow.compat.v1.

Pattern: `import tensorflow.compat.v1 as tf; tf.disable_v2_behavior()` at the
top of an old script so its graph-mode code (placeholders, tf.layers-free
manual logistic regression with an L2 penalty, GradientDescentOptimizer,
Session + feed_dict, tf.train.Saver checkpoint to a temp dir and restore)
runs unchanged on both TF 1.15 and TF 2.x -- the migration guide's first step.
Style: in the style of the TF "Migrate to TF2" guide's automatic-upgrade
advice (site/en/guide/migrate/migrate_tf2.md: `import tensorflow.compat.v1 as tf`),
applied to a TF1 logistic-regression script on the breast-cancer data.
Seeds with tf.set_random_seed (the compat.v1 name) and np.random.seed.

releases: 1.15, 2.0, 2.1, 2.2, 2.3, 2.15, 2.16, 2.21
deterministic: yes
"""
import json
import os
import shutil
import tempfile

import numpy as np
import tensorflow.compat.v1 as tf

tf.disable_v2_behavior()
tf.set_random_seed(24)
np.random.seed(24)

data = np.load(os.path.join(os.path.dirname(__file__), "data", "breast_cancer.npz"))
X = data["x"]
X = (X - X.mean(0)) / X.std(0)
Y = data["y"].astype(np.float32).reshape(-1, 1)
order = np.random.permutation(len(X))
X, Y = X[order], Y[order]
X_train, Y_train, X_test, Y_test = X[:450], Y[:450], X[450:], Y[450:]

n_features = X.shape[1]
features = tf.placeholder(tf.float32, shape=[None, n_features])
target = tf.placeholder(tf.float32, shape=[None, 1])

w = tf.get_variable("w", shape=[n_features, 1], initializer=tf.glorot_uniform_initializer())
b = tf.get_variable("b", shape=[1], initializer=tf.zeros_initializer())
logits = tf.matmul(features, w) + b
loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=logits))
loss += 1e-3 * tf.nn.l2_loss(w)
global_step = tf.train.get_or_create_global_step()
train_op = tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=global_step)
pred = tf.cast(tf.sigmoid(logits) > 0.5, tf.float32)
acc = tf.reduce_mean(tf.cast(tf.equal(pred, target), tf.float32))

saver = tf.train.Saver()
ckpt_dir = tempfile.mkdtemp()

with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    for step in range(200):
        idx = np.random.choice(len(X_train), 64, replace=False)
        _, l = sess.run([train_op, loss], {features: X_train[idx], target: Y_train[idx]})
        if step % 50 == 0:
            print("step %d loss %.4f" % (step, l))
    save_path = saver.save(sess, os.path.join(ckpt_dir, "model.ckpt"), global_step=global_step)
    print("Model saved in path: %s" % save_path)

with tf.Session() as sess:
    saver.restore(sess, save_path)
    test_loss, test_acc, gs = sess.run([loss, acc, global_step], {features: X_test, target: Y_test})
shutil.rmtree(ckpt_dir, ignore_errors=True)

print("RESULT", json.dumps({
    "last_train_loss": float(l),
    "global_step": int(gs),
    "test_loss": float(test_loss),
    "test_accuracy": float(test_acc),
}))
