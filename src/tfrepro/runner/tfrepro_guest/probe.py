"""Probe mode for `tfrepro explain`: one model, one fixed batch, every stage recorded.

Stages, each saved for the host to compare between two environments:
configs (model, layers, optimizer, loss as the release reports them); init weights;
then, from the transplanted weights if given: each layer's forward output in inference mode
and again in training mode (dropout, noise, batch statistics, and the update of BatchNorm's
moving statistics), the loss, the gradients, one
optimizer update (applied to the given gradients, so both sides update from identical weights
*and* gradients), and K training steps in lockstep.

The stage functions take what they need, so a model cell (`probe`) and a script's first
`fit` (script_probe) run the same ones. A stage that cannot be measured records
`<stage>_unavailable` with the reason; the host reports it as "not measured", never as equal.
"""

import itertools
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
        "loss": loss if isinstance(loss, str) else
        getattr(loss, "__name__", None) or type(loss).__name__,
        # the model's own compile settings: Keras 3 compiles with jit_compile="auto"
        "compile": {
            # unset (None, or absent as in 1.15) is the default: off, off, 1
            "jit_compile": _setting(model, "jit_compile", "_jit_compile") or False,
            "run_eagerly": _setting(model, "run_eagerly", "_run_eagerly") or False,
            "steps_per_execution": _setting(model, "steps_per_execution",
                                            "_steps_per_execution") or 1,
        },
    }


def load_list(np, path, prefix):
    with np.load(path, allow_pickle=False) as z:
        n = len([k for k in z.files if k.startswith(prefix) and k[len(prefix):].isdigit()])
        return [np.asarray(z["%s%d" % (prefix, i)]) for i in range(n)]


def _transplant(model, weights):
    own = model.get_weights()
    if len(own) != len(weights) or any(a.shape != b.shape for a, b in zip(own, weights)):
        raise ValueError(
            "cannot transplant weights: this model has %d variables %s, the other has %d %s"
            % (len(own), [a.shape for a in own], len(weights), [b.shape for b in weights]))
    model.set_weights(weights)


def start(np, model, spec, result):
    """A's initial weights into this model (when given); returns the weights the stages
    start from."""
    if spec.get("weights_path"):
        _transplant(model, load_list(np, spec["weights_path"], "init_"))
    weights = [w.copy() for w in model.get_weights()]
    result["start_weights_sha256"] = weights_sha256(weights)
    return weights


def forward(np, keras, model, xb, result, arrays):
    """Each non-input layer's output on the batch, in inference mode (`fwd_i`) and in training
    mode (`tfwd_i`: dropout masks, noise, batch statistics), the layers in model order."""
    layers = [l for l in model.layers if type(l).__name__ != "InputLayer"]
    try:
        probe_model = keras.Model(model.inputs, [l.output for l in layers])
    except Exception as exc:  # noqa: BLE001 - e.g. a subclassed model without layer outputs
        reason = "the model's layer outputs are not reachable (%s: %s)" % (type(exc).__name__, exc)
        result["forward_unavailable"] = result["train_forward_unavailable"] = reason
        return
    result["layer_names"] = [l.name for l in layers]
    moving = list(getattr(model, "non_trainable_weights", []))
    for key, prefix, training in (("forward", "fwd_", False), ("train_forward", "tfwd_", True)):
        try:
            before = [np.array(v) for v in moving] if training else None
            outs = probe_model(xb, training=training)
            if not isinstance(outs, (list, tuple)):
                outs = [outs]
            for i, out in enumerate(outs):
                arrays["%s%d" % (prefix, i)] = np.asarray(out)
            if training:  # BatchNormalization's moving statistics: the update of this step
                result["moving_names"] = [str(getattr(v, "path", None) or v.name) for v in moving]
                for i, v in enumerate(moving):
                    arrays["mstat_%d" % i] = np.array(v) - before[i]
        except Exception as exc:  # noqa: BLE001
            result[key + "_unavailable"] = "%s: %s" % (type(exc).__name__, exc)


def gradients(np, tf, model, loss_of, xb, yb, result, arrays):
    """The loss on the batch (training mode) and its gradients for every trainable variable."""
    variables = list(model.trainable_variables)
    result["trainable_names"] = [str(getattr(v, "path", None) or v.name) for v in variables]
    with tf.GradientTape() as tape:
        loss = loss_of(xb, yb)
    grads = tape.gradient(loss, variables)
    result["probe_loss"] = float(np.asarray(loss))
    for i, g in enumerate(grads):
        if g is None:
            g = np.zeros(variables[i].shape, dtype=np.asarray(variables[i]).dtype)
        arrays["grad_%d" % i] = np.asarray(g)
    return [arrays["grad_%d" % i] for i in range(len(variables))]


def given_gradients(np, spec, own):
    """A's gradients when the probe was given them (B, A's rerun), else this side's own."""
    return load_list(np, spec["grads_path"], "grad_") if spec.get("grads_path") else own


def update(np, tf, opt, variables, grads, result, arrays):
    """One step of a fresh optimizer `opt` (None: not measured, result says why) from `grads`
    on `variables`: each variable's change (`update_i`). The caller restores the variables."""
    if opt is None:
        return
    before = [np.array(v) for v in variables]
    try:
        opt.apply_gradients(zip([tf.constant(g) for g in grads], variables))
        for i, v in enumerate(variables):
            arrays["update_%d" % i] = np.array(v) - before[i]
        result["update_optimizer"] = type(opt).__name__
    except Exception as exc:  # noqa: BLE001 - not measured, never substituted
        result["optimizer_unavailable"] = "a fresh copy of %s could not apply the gradients " \
            "(%s: %s)" % (type(opt).__name__, type(exc).__name__, exc)


def trajectory(np, model, step, batches, result, arrays):
    """`step(x, y)` on each batch in turn, the weights after each step (lockstep with A)."""
    points, losses = [], []
    for x, y in batches:
        losses.append(step(x, y))
        points.append(np.concatenate([w.ravel() for w in model.get_weights()]))
    arrays["trajectory"] = np.stack(points) if points else np.zeros((0, 0))
    result["trajectory_loss"] = losses


def probe(spec, s, result, arrays):
    """A model cell's probe: the host's first batch, tfrepro's own loss and training step."""
    np, ctx, model, compat, tf = s.np, s.ctx, s.model, s.compat, s.ctx.tf
    loss_fn = train.loss_function(ctx, model)
    result["configs"] = configs(model, loss_fn)
    start_weights = start(np, model, spec, result)

    order = ctx.epoch_order(0)
    arrays["batch_index"] = np.asarray(order[:ctx.batch_size])
    xb = ctx.data["x_train"][order[:ctx.batch_size]]
    yb = ctx.data["y_train"][order[:ctx.batch_size]]
    forward(np, ctx.keras, model, xb, result, arrays)
    model.set_weights(start_weights)  # training-mode BatchNormalization moved its statistics

    grads = gradients(np, tf, model, lambda x, y: train.total_loss(ctx, model, loss_fn, x, y),
                      xb, yb, result, arrays)
    try:
        opt = train.fresh_optimizer(ctx, compat, model)
    except ValueError as exc:
        opt, result["optimizer_unavailable"] = None, str(exc)
    update(np, tf, opt, train.optimizer_variables(ctx, compat, model),
           given_gradients(np, spec, grads), result, arrays)
    model.set_weights(start_weights)

    step, _ = train.make_step(ctx, model, compat)
    steps = int(spec.get("steps", 20))
    batches = ((x, y) for _, x, y in itertools.islice(train.all_batches(ctx), steps))
    trajectory(np, model, step, batches, result, arrays)
