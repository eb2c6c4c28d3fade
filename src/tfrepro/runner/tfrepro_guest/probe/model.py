"""explain on a model cell: the stages on the host's first batch, with tfrepro's own loss and
training step (the same ones the cell trains with)."""

import itertools

from ..cell import train as loops
from ..protocol import Array, ProbeSpec, Result, Stage, unavailable
from . import stages


def probe(spec, s, result, arrays):
    """A model cell's probe: the host's first batch, tfrepro's own loss and training step."""
    np, ctx, model, compat, tf = s.np, s.ctx, s.model, s.compat, s.ctx.tf
    loss_fn = loops.loss_function(ctx, model)
    result[Result.CONFIGS] = stages.configs(model, loss_fn)
    start_weights = stages.start(np, model, spec, result)

    order = ctx.epoch_order(0)
    arrays[Array.BATCH_INDEX] = np.asarray(order[: ctx.batch_size])
    xb = ctx.data["x_train"][order[: ctx.batch_size]]
    yb = ctx.data["y_train"][order[: ctx.batch_size]]
    stages.forward(np, ctx.keras, model, xb, result, arrays)
    model.set_weights(start_weights)  # training-mode BatchNormalization moved its statistics

    grads = stages.gradients(
        np,
        tf,
        model,
        lambda x, y: loops.total_loss(ctx, model, loss_fn, x, y),
        xb,
        yb,
        result,
        arrays,
    )
    try:
        opt = loops.fresh_optimizer(ctx, compat, model)
    except ValueError as exc:
        opt, result[unavailable(Stage.OPTIMIZER)] = None, str(exc)
    stages.update(
        np,
        tf,
        opt,
        loops.optimizer_variables(ctx, compat, model),
        stages.given_gradients(np, spec, grads),
        result,
        arrays,
    )
    model.set_weights(start_weights)

    step, _ = loops.make_step(ctx, model, compat)
    steps = int(spec.get(ProbeSpec.STEPS, 20))
    batches = ((x, y) for _, x, y in itertools.islice(loops.all_batches(ctx), steps))
    stages.trajectory(np, model, step, batches, result, arrays)
    stages.record_metrics(model, result)
