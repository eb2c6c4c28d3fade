"""Training loops. The host decides the batch order; every step's loss is recorded."""

import numpy as np

from .context import as_float


def keras_loop(ctx, model):
    """The release's Keras optimizer, one train_on_batch per host-ordered batch.

    Metrics are reset before each step so the returned loss is that batch's loss (not
    the running mean that Keras reports inside an epoch).
    """
    step = 0
    for epoch in range(ctx.epochs):
        for xb, yb in ctx.batches(epoch):
            model.reset_metrics()
            ctx.log("loss", as_float(model.train_on_batch(xb, yb)), step)
            step += 1
        yield epoch


def tf1_loop(ctx, model, compat, optimizer_name, learning_rate):
    """TF1's tf.compat.v1.train optimizer driven from a GradientTape loop."""
    tf = ctx.tf
    opt = compat.tf1_optimizer(optimizer_name, learning_rate)
    loss_fn = ctx.keras.losses.get(ctx.loss_name())
    variables = compat.tf_variables(model.trainable_variables)
    step = 0
    for epoch in range(ctx.epochs):
        for xb, yb in ctx.batches(epoch):
            with tf.GradientTape() as tape:
                pred = model(xb, training=True)
                loss = tf.reduce_mean(loss_fn(yb, pred))
                if model.losses:
                    loss = loss + tf.add_n(model.losses)
            grads = tape.gradient(loss, variables)
            opt.apply_gradients(zip(grads, variables))
            ctx.log("loss", float(np.asarray(loss)), step)
            step += 1
        yield epoch
