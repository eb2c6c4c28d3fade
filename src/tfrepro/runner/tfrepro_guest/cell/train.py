"""Training steps and loops. The host decides the batch order; every step's loss is recorded."""

import copy

import numpy as np

from .context import as_float


def loss_function(ctx, model):
    """The model's compiled loss as a callable (falls back to the task's default loss)."""
    loss = getattr(model, "loss", None)
    if loss is not None and not isinstance(loss, (str, dict, list)):
        return loss
    return ctx.keras.losses.get(loss if isinstance(loss, str) else ctx.loss_name())


def total_loss(ctx, model, loss_fn, xb, yb):
    tf = ctx.tf
    loss = tf.reduce_mean(loss_fn(yb, model(xb, training=True)))
    if model.losses:
        loss = loss + tf.add_n(model.losses)
    return loss


def fresh_optimizer(ctx, compat, model=None):
    """A new optimizer of the cell's implementation, with fresh state: TF1's for the tf1 knob,
    else a copy of the one the model was compiled with (see copy_optimizer), else the spec's.
    Raises ValueError when the model's optimizer cannot be copied (never substitutes)."""
    if ctx.knobs.get("optimizer_impl", "keras") == "tf1":
        return compat.tf1_optimizer(ctx.optimizer_name, ctx.learning_rate)
    if model is not None and getattr(model, "optimizer", None) is not None:
        opt, reason = copy_optimizer(model.optimizer)
        if opt is None:
            raise ValueError(reason)
        return opt
    return ctx.optimizer()


def copy_optimizer(opt):
    """(a new optimizer of the same class and settings, None) — its schedule, clipping, weight
    decay included — or (None, why it cannot be copied). from_config(get_config()) first (a
    fresh state); where that fails (a schedule or a custom optimizer whose get_config is
    incomplete), a deep copy of the optimizer as it is: at a script's fit it has not stepped yet,
    so its state is still the fresh one."""
    try:
        return type(opt).from_config(opt.get_config()), None
    except Exception as exc:
        failed = "%s: %s" % (type(exc).__name__, exc)
    try:
        return copy.deepcopy(opt), None
    except Exception as exc:
        return None, "%s cannot be copied with fresh state (from_config: %s; deepcopy: %s: %s)" % (
            type(opt).__name__,
            failed,
            type(exc).__name__,
            exc,
        )


def optimizer_variables(ctx, compat, model):
    """The variables an optimizer of this implementation updates (TF1 ones need tf.Variables)."""
    if ctx.knobs.get("optimizer_impl", "keras") == "tf1":
        return compat.tf_variables(model.trainable_variables)
    return list(model.trainable_variables)


def make_step(ctx, model, compat):
    """(step(xb, yb) -> loss of that batch, optimizer description) for the optimizer_impl knob.

    keras / legacy: one train_on_batch, metrics reset first so the returned loss is that
    batch's loss (not Keras' running mean). tf1: TF1's tf.compat.v1.train optimizer driven
    from a GradientTape loop.
    """
    if ctx.knobs.get("optimizer_impl", "keras") == "tf1":
        tf = ctx.tf
        opt = fresh_optimizer(ctx, compat)
        loss_fn = loss_function(ctx, model)
        variables = optimizer_variables(ctx, compat, model)

        def tf1_step(xb, yb):
            with tf.GradientTape() as tape:
                loss = total_loss(ctx, model, loss_fn, xb, yb)
            grads = tape.gradient(loss, variables)
            opt.apply_gradients(zip(grads, variables))
            return float(np.asarray(loss))

        return tf1_step, type(opt).__name__

    opt = model.optimizer
    step = batch_step(ctx.tf, model, compat.keras3)
    return step, "%s.%s" % (type(opt).__module__, type(opt).__name__)


def batch_step(tf, model, keras3):
    """step(x, y) -> the loss of that batch: one training step of a compiled Keras model, as
    train_on_batch runs it (metrics reset first, so the loss is the batch's own, not Keras'
    running mean). keras3: the model is a Keras 3 model (see keras3_step)."""
    if keras3 and getattr(model, "train_step", None) is not None:
        return keras3_step(tf, model)

    def step(xb, yb):
        model.reset_metrics()
        return as_float(model.train_on_batch(xb, yb))

    return step


def keras3_step(tf, model):
    """Keras 3's own train_step in one tf.function made once: the ops train_on_batch runs.

    Keras 3.4's train_on_batch hands its compiled step a new Python iterator on every call, so
    the step is traced again each time (the cost: benchmarks/bench_keras3_step.py, figures in
    benchmarks/README.md); the losses and weights are bitwise the same as train_on_batch's
    (tests/integration/test_builtin_keras3_step.py). Compiled as Keras compiles it (the model's
    jit_compile), metrics reset first so the loss is that batch's."""
    compiled = tf.function(
        lambda x, y: model.train_step((x, y)),
        reduce_retracing=True,
        jit_compile=bool(getattr(model, "jit_compile", False)),
    )

    def step(xb, yb):
        model.reset_metrics()
        logs = compiled(*(tf.nest.map_structure(tf.convert_to_tensor, v) for v in (xb, yb)))
        return float(np.asarray(logs["loss"]))

    return step


def all_batches(ctx):
    """(epoch, x, y) for every batch of every epoch, in the host's order."""
    for epoch in range(ctx.epochs):
        for xb, yb in ctx.batches(epoch):
            yield epoch, xb, yb


def epochs(ctx, step):
    """Train every epoch, logging each step's loss; yields after each epoch."""
    current = 0
    for s, (epoch, xb, yb) in enumerate(all_batches(ctx)):
        if epoch != current:
            yield current
            current = epoch
        ctx.log("loss", step(xb, yb), s)
    yield current
