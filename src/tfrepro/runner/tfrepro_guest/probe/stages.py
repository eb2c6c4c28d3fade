"""Probe mode for `tfrepro explain`: one model, one fixed batch, every stage recorded.

Stages, each saved for the host to compare between two environments:
configs (model, layers, optimizer, loss as the release reports them); init weights;
then, from the transplanted weights if given: each layer's forward output in inference mode
and again in training mode (dropout, noise, batch statistics, and the update of BatchNorm's
moving statistics), the loss, the gradients, one
optimizer update (applied to the given gradients, so both sides update from identical weights
*and* gradients), and K training steps in lockstep.

The stage functions take what they need, so a model cell (probe/model.py) and a script's
first `fit` (probe/script.py) run the same ones. A stage that cannot be measured records
`unavailable(stage)` with the reason; the host reports it as "not measured", never as equal.
"""

import contextlib
import json
import re

from ..platform.compat import variable_names
from ..platform.hashing import weights_sha256
from ..protocol import Array, ProbeSpec, Result, Stage, count, indexed, unavailable


def _plain(value):
    item = getattr(value, "item", None)  # numpy scalars (e.g. a float32 learning rate)
    if item is not None:
        try:
            return item()
        except Exception:  # not a scalar after all
            pass
    return repr(value)


def _jsonable(value):
    return json.loads(json.dumps(value, default=_plain))


def config_of(obj):
    try:
        return _jsonable(obj.get_config())
    except Exception as exc:  # some objects cannot describe themselves
        return {"unavailable": "%s: %s" % (type(exc).__name__, exc)}


def _setting(model, *names):
    """A compile setting as this Keras keeps it (public property or private attribute)."""
    for name in names:
        try:
            value = getattr(model, name)
        except Exception:  # a property that raises before compile, etc.
            continue
        numpy = getattr(value, "numpy", None)  # tf.keras 2 keeps steps_per_execution in a Variable
        if numpy is not None:
            with contextlib.suppress(Exception):
                value = numpy()
        return _jsonable(value)
    return None


def configs(model, loss):
    layers = []
    for layer in model.layers:
        layers.append(
            {"name": layer.name, "class": type(layer).__name__, "config": config_of(layer)}
        )
    return {
        "layers": layers,
        "optimizer": {
            "class": type(model.optimizer).__name__,
            "config": config_of(model.optimizer),
        },
        "loss": loss
        if isinstance(loss, str)
        else getattr(loss, "__name__", None) or type(loss).__name__,
        # the model's own compile settings: Keras 3 compiles with jit_compile="auto"
        "compile": {
            # unset (None, or absent as in 1.15) is the default: off, off, 1
            "jit_compile": _setting(model, "jit_compile", "_jit_compile") or False,
            "run_eagerly": _setting(model, "run_eagerly", "_run_eagerly") or False,
            "steps_per_execution": _setting(model, "steps_per_execution", "_steps_per_execution")
            or 1,
        },
    }


def load_list(np, path, prefix):
    """The arrays `prefix`0, `prefix`1, ... of an .npz file, in order."""
    with np.load(path, allow_pickle=False) as z:
        return [np.asarray(z[indexed(prefix, i)]) for i in range(count(z.files, prefix))]


class Untransplantable(ValueError):
    """A's weights do not fit this side's model (other variables or shapes)."""


def _transplant(model, weights):
    own = model.get_weights()
    if len(own) != len(weights) or any(a.shape != b.shape for a, b in zip(own, weights)):
        raise Untransplantable(
            "cannot transplant weights: this model has %d variables %s, the other has %d %s"
            % (len(own), [a.shape for a in own], len(weights), [b.shape for b in weights])
        )
    model.set_weights(weights)


def start(np, model, spec, result):
    """A's initial weights into this model (when given); returns the weights the stages
    start from."""
    if spec.get(ProbeSpec.WEIGHTS_PATH):
        _transplant(model, load_list(np, spec[ProbeSpec.WEIGHTS_PATH], Array.INIT))
    weights = [w.copy() for w in model.get_weights()]
    result[Result.START_WEIGHTS_SHA256] = weights_sha256(weights)
    return weights


class Eager(object):
    """How the stages run a model and read variables in eager mode (TF 2, and TF 1 with eager
    enabled); probe/graph.py has the TF 1 graph-mode counterpart."""

    def __init__(self, np):
        self.np = np

    def run(self, probe, x, training):
        values = probe(x, training=training)
        return list(values) if isinstance(values, (list, tuple)) else [values]

    def read(self, variables):
        return [self.np.array(v) for v in variables]


def forward(np, keras, model, xb, result, arrays, backend=None):
    """Each non-input layer's output on the batch, in inference mode (Array.FORWARD) and in
    training mode (Array.TRAIN_FORWARD: dropout masks, noise, batch statistics), the layers in
    model order; a nested model's own layers precede its output, named by path ("base/conv"),
    computed from the nested model's input in this model's graph, in the mode that call runs
    in."""
    backend = backend or Eager(np)
    layers = _layers(model)
    try:
        try:
            _probe_model(keras, model, layers)
        except Exception:  # a Sequential never called (Keras 2): one call builds its graph
            model(xb, training=False)
            _probe_model(keras, model, layers)
    except Exception as exc:  # e.g. a subclassed model without layer outputs
        reason = "the model's layer outputs are not reachable (%s: %s)" % (type(exc).__name__, exc)
        result[unavailable(Stage.FORWARD)] = result[unavailable(Stage.TRAIN_FORWARD)] = reason
        return
    moving = list(getattr(model, "non_trainable_weights", []))
    for stage, prefix, training in (
        (Stage.FORWARD, Array.FORWARD, False),
        (Stage.TRAIN_FORWARD, Array.TRAIN_FORWARD, True),
    ):
        try:
            outs = _outputs(np, keras, model, xb, training, "", [], backend)
            if training:  # BatchNormalization's moving statistics: the update of this step
                result[Result.MOVING_NAMES] = variable_names(moving)
                for i, v in enumerate(moving):
                    arrays[indexed(Array.MOVING, i)] = _moved(np, v, outs)
            names = [name for name, _ in outs]
            if result.get(Result.LAYER_NAMES, names) != names:
                raise ValueError("the layers differ between inference and training mode")
            result[Result.LAYER_NAMES] = names
            for i, (_, out) in enumerate(outs):
                arrays[indexed(prefix, i)] = out
        except Exception as exc:
            result[unavailable(stage)] = "%s: %s" % (type(exc).__name__, exc)


def _moved(np, variable, outs):
    """A moving statistic's update by the outer call alone (recorded before nested models are
    probed on their own, which would move it again): the value outs carries for it."""
    return outs.moving[id(variable)]


def _layers(model):
    return [l for l in model.layers if type(l).__name__ != "InputLayer"]


def _is_model(layer):
    return hasattr(layer, "layers") and hasattr(layer, "inputs") and bool(_layers(layer))


def _node(model, layer):
    """The node of `layer`'s call inside `model`'s graph (Keras 2 and 3), or None."""
    graph = getattr(model, "_functional", None) or model  # Keras 3 Sequential wraps one
    for nodes in (getattr(graph, "_nodes_by_depth", None) or {}).values():
        for node in nodes:
            owner = (
                getattr(node, "layer", None)  # tf.keras 2
                or getattr(node, "operation", None)  # Keras 3
                or getattr(node, "outbound_layer", None)  # TF 1.15
            )
            if owner is layer:
                return node
    return None


def _node_tensors(node, outputs):
    """A node's output (the first, for several) or input tensor(s), Keras 2 or 3; None when
    the node does not say."""
    if outputs:
        found = getattr(node, "output_tensors", None)
        if found is None:
            found = getattr(node, "outputs", None)
    else:
        found = getattr(node, "input_tensors", None)
    if isinstance(found, (list, tuple)):
        if not found:
            return None
        if outputs or len(found) == 1:
            return found[0]
        return list(found)
    return found


def _call_training(node):
    """The training argument a nested model was called with in its parent's graph, or None
    (tf.keras 2: call_kwargs; TF 1.15: arguments, a dict; Keras 3: arguments.kwargs)."""
    kwargs = getattr(node, "call_kwargs", None)
    if kwargs is None:
        arguments = getattr(node, "arguments", None)
        kwargs = arguments if isinstance(arguments, dict) else getattr(arguments, "kwargs", None)
    kwargs = kwargs or {}
    value = kwargs.get("training")
    return value if isinstance(value, bool) else None


def _probe_model(keras, model, layers):
    """A model from `model`'s inputs to each layer's output in its graph, then to each nested
    model's input. Returns (probe model, [(index of a nested layer, its node)])."""
    outs, ins, nested = [], [], []
    for i, layer in enumerate(layers):
        node = _node(model, layer)
        tensor = _node_tensors(node, True) if node is not None else None
        outs.append(tensor if tensor is not None else layer.output)
        if _is_model(layer) and node is not None and _node_tensors(node, False) is not None:
            ins.append(_node_tensors(node, False))
            nested.append((i, node))
    return keras.Model(model.inputs, outs + ins), nested


class _Outputs(list):
    """[(name, array)] of every layer; .moving: the moving statistics' updates of the outer
    call, by id of the variable."""

    moving = None


def _outputs(np, keras, model, x, training, path, moving_done, backend):
    layers = _layers(model)
    probe, nested = _probe_model(keras, model, layers)
    moving = list(getattr(model, "non_trainable_weights", [])) if not moving_done else []
    before = backend.read(moving)
    values = backend.run(probe, x, training)
    out = _Outputs()
    out.moving = {id(v): a - b for v, a, b in zip(moving, backend.read(moving), before)}
    moving_done.append(True)
    inner_inputs = dict(zip([i for i, _ in nested], values[len(layers) :]))
    nodes = dict(nested)
    for i, layer in enumerate(layers):
        if i in inner_inputs:  # its layers first: the first that differs is the precise "where"
            mode = _call_training(nodes[i])
            inner = _outputs(
                np,
                keras,
                layer,
                inner_inputs[i],
                training if mode is None else mode,
                path + layer.name + "/",
                moving_done,
                backend,
            )
            out.extend(inner)
        out.append((path + layer.name, _array(np, values[i])))
    return out


def _array(np, value):
    if isinstance(value, (list, tuple)):  # a layer with several outputs: the first
        value = value[0]
    return np.asarray(value)


def gradients(np, tf, model, loss_of, xb, yb, result, arrays):
    """The loss on the batch (training mode) and its gradients for every trainable variable."""
    variables = list(model.trainable_variables)
    result[Result.TRAINABLE_NAMES] = variable_names(variables)
    with tf.GradientTape() as tape:
        loss = loss_of(xb, yb)
    grads = [dense(tf, g) for g in tape.gradient(loss, variables)]
    result[Result.PROBE_LOSS] = float(np.asarray(loss))
    for i, g in enumerate(grads):
        if g is None:
            g = np.zeros(variables[i].shape, dtype=np.asarray(variables[i]).dtype)
        arrays[indexed(Array.GRAD, i)] = np.asarray(g)
    return [arrays[indexed(Array.GRAD, i)] for i in range(len(variables))]


def dense(tf, gradient):
    """A gradient as a dense tensor (an Embedding's is IndexedSlices: rows and indices)."""
    if gradient is not None and hasattr(gradient, "indices") and hasattr(gradient, "values"):
        return tf.convert_to_tensor(gradient)
    return gradient


def given_gradients(np, spec, own):
    """A's gradients when the probe was given them (B, A's rerun), else this side's own."""
    path = spec.get(ProbeSpec.GRADS_PATH)
    return load_list(np, path, Array.GRAD) if path else own


def update(np, tf, opt, variables, grads, result, arrays):
    """One step of a fresh optimizer `opt` (None: not measured, result says why) from `grads`
    on `variables`: each variable's change (Array.UPDATE). The caller restores the variables."""
    if opt is None:
        return
    before = [np.array(v) for v in variables]
    try:
        opt.apply_gradients(zip([tf.constant(g) for g in grads], variables))
        for i, v in enumerate(variables):
            arrays[indexed(Array.UPDATE, i)] = np.array(v) - before[i]
        result[Result.UPDATE_OPTIMIZER] = type(opt).__name__
    except Exception as exc:  # not measured, never substituted
        result[unavailable(Stage.OPTIMIZER)] = (
            "a fresh copy of %s could not apply the gradients "
            "(%s: %s)" % (type(opt).__name__, type(exc).__name__, exc)
        )


def resolved_metrics(model):
    """{name: the function it computes} of the compiled metrics, as this release resolved them
    once training ran (a string like "accuracy" resolves from the loss in TF <= 2.1 and from the
    output shape from 2.2 on): the metric's function, else its class in snake_case. The loss
    trackers are left out."""
    out = {}

    def visit(metric, depth):
        inner = getattr(metric, "metrics", None)  # Keras 3 CompileMetrics holds the metrics
        if depth < 3 and isinstance(inner, (list, tuple)) and inner and not hasattr(metric, "_fn"):
            for m in inner:
                visit(m, depth + 1)
            return
        name = str(getattr(metric, "name", ""))
        if not name or name == "loss" or name.endswith("_loss"):
            return
        fn = getattr(metric, "_fn", None)
        name = {"acc": "accuracy"}.get(name, name)  # TF 1.x names "accuracy" acc
        out[name] = getattr(fn, "__name__", None) or _snake(type(metric).__name__)

    for metric in getattr(model, "metrics", None) or []:
        visit(metric, 0)
    return out


def record_metrics(model, result):
    """The resolved metrics into the configs (after training steps: Keras resolves them then);
    a model that cannot say is left without."""
    try:
        found = resolved_metrics(model)
    except Exception:  # a metric container this Keras shapes otherwise: not compared
        return
    if found:
        result[Result.CONFIGS]["metrics"] = found


def _snake(name):
    """SparseCategoricalAccuracy -> sparse_categorical_accuracy, AUC -> auc."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def trajectory(np, model, step, batches, result, arrays):
    """`step(x, y)` on each batch in turn, the weights after each step (lockstep with A)."""
    points, losses = [], []
    for x, y in batches:
        losses.append(step(x, y))
        points.append(np.concatenate([w.ravel() for w in model.get_weights()]))
    arrays[Array.TRAJECTORY] = np.stack(points) if points else np.zeros((0, 0))
    result[Result.TRAJECTORY_LOSS] = losses
