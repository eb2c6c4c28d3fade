"""Probe mode for `tfrepro explain`: one model, one fixed batch, every stage recorded.

Stages, each saved for the host to compare between two environments:
configs (model, layers, optimizer, loss as the release reports them); init weights;
then, from the transplanted weights if given: each layer's forward output, the loss,
the gradients, one optimizer update (applied to the given gradients, so both sides
update from identical weights *and* gradients), and K training steps in lockstep.
"""

import json

from . import train
from .hashing import weights_sha256


def _plain(value):
    item = getattr(value, "item", None)  # numpy scalars (e.g. a float32 learning rate)
    if item is not None:
        try:
            return item()
        except Exception:  # noqa: BLE001 - not a scalar after all
            pass
    return repr(value)


def _jsonable(value):
    return json.loads(json.dumps(value, default=_plain))


def _config(obj):
    try:
        return _jsonable(obj.get_config())
    except Exception as exc:  # noqa: BLE001 - some objects cannot describe themselves
        return {"unavailable": "%s: %s" % (type(exc).__name__, exc)}


def _setting(model, *names):
    """A compile setting as this Keras keeps it (public property or private attribute)."""
    for name in names:
        try:
            value = getattr(model, name)
        except Exception:  # noqa: BLE001 - a property that raises before compile, etc.
            continue
        numpy = getattr(value, "numpy", None)  # tf.keras 2 keeps steps_per_execution in a Variable
        if numpy is not None:
            try:
                value = numpy()
            except Exception:  # noqa: BLE001
                pass
        return _jsonable(value)
    return None


def configs(model, loss):
    layers = []
    for layer in model.layers:
        layers.append({"name": layer.name, "class": type(layer).__name__,
                       "config": _config(layer)})
    return {
        "layers": layers,
        "optimizer": {"class": type(model.optimizer).__name__,
                      "config": _config(model.optimizer)},
        "loss": getattr(loss, "__name__", None) or type(loss).__name__,
        # the model's own compile settings: Keras 3 compiles with jit_compile="auto"
        "compile": {
            # unset (None, or absent as in 1.15) is the default: off, off, 1
            "jit_compile": _setting(model, "jit_compile", "_jit_compile") or False,
            "run_eagerly": _setting(model, "run_eagerly", "_run_eagerly") or False,
            "steps_per_execution": _setting(model, "steps_per_execution",
                                            "_steps_per_execution") or 1,
        },
    }


def _load_list(np, path, prefix):
    with np.load(path, allow_pickle=False) as z:
        n = len([k for k in z.files if k.startswith(prefix)])
        return [np.asarray(z["%s%d" % (prefix, i)]) for i in range(n)]


def _transplant(np, model, weights):
    own = model.get_weights()
    if len(own) != len(weights) or any(a.shape != b.shape for a, b in zip(own, weights)):
        raise ValueError(
            "cannot transplant weights: this model has %d variables %s, the other has %d %s"
            % (len(own), [a.shape for a in own], len(weights), [b.shape for b in weights]))
    model.set_weights(weights)


def _forward(s, xb):
    """Each non-input layer's output on the batch (inference mode)."""
    k, model = s.ctx.keras, s.model
    layers = [l for l in model.layers if type(l).__name__ != "InputLayer"]
    probe_model = k.Model(model.inputs, [l.output for l in layers])
    outs = probe_model(xb, training=False)
    if not isinstance(outs, (list, tuple)):
        outs = [outs]
    return [l.name for l in layers], [s.np.asarray(o) for o in outs]


def probe(spec, s, result, arrays):
    np, ctx, model, compat, tf = s.np, s.ctx, s.model, s.compat, s.ctx.tf
    loss_fn = train.loss_function(ctx, model)
    result["configs"] = configs(model, loss_fn)
    if spec.get("weights_path"):
        _transplant(np, model, _load_list(np, spec["weights_path"], "init_"))
    start = [w.copy() for w in model.get_weights()]
    result["start_weights_sha256"] = weights_sha256(start)

    order = ctx.epoch_order(0)
    arrays["batch_index"] = np.asarray(order[:ctx.batch_size])
    xb = ctx.data["x_train"][order[:ctx.batch_size]]
    yb = ctx.data["y_train"][order[:ctx.batch_size]]

    try:
        names, outs = _forward(s, xb)
        result["layer_names"] = names
        for i, out in enumerate(outs):
            arrays["fwd_%d" % i] = out
    except Exception as exc:  # noqa: BLE001 - e.g. a subclassed model without layer outputs
        result["forward_unavailable"] = "%s: %s" % (type(exc).__name__, exc)

    variables = list(model.trainable_variables)
    result["trainable_names"] = [str(getattr(v, "path", None) or v.name) for v in variables]
    with tf.GradientTape() as tape:
        loss = train.total_loss(ctx, model, loss_fn, xb, yb)
    grads = tape.gradient(loss, variables)
    result["probe_loss"] = float(np.asarray(loss))
    for i, g in enumerate(grads):
        arrays["grad_%d" % i] = np.asarray(g)

    given = _load_list(np, spec["grads_path"], "grad_") if spec.get("grads_path") else \
        [np.asarray(g) for g in grads]
    opt = train.fresh_optimizer(ctx, compat, model)
    opt_vars = train.optimizer_variables(ctx, compat, model)
    before = [np.array(v) for v in model.trainable_variables]
    opt.apply_gradients(zip([tf.constant(g) for g in given], opt_vars))
    for i, v in enumerate(model.trainable_variables):
        arrays["update_%d" % i] = np.array(v) - before[i]
    result["update_optimizer"] = type(opt).__name__
    model.set_weights(start)

    step, _ = train.make_step(ctx, model, compat)
    steps = int(spec.get("steps", 20))
    trajectory, losses = [], []
    for n, (_, x, y) in enumerate(train.all_batches(ctx)):
        if n >= steps:
            break
        losses.append(step(x, y))
        trajectory.append(np.concatenate([w.ravel() for w in model.get_weights()]))
    arrays["trajectory"] = np.stack(trajectory) if trajectory else np.zeros((0, 0))
    result["trajectory_loss"] = losses

