"""The probe's stages on a TensorFlow 1.x Keras model in graph mode (a 1.15 script that never
enables eager execution): the same measurements as the eager stages, through Keras backend
functions in the model's session.

Forward outputs run with the learning phase fed (1: training mode, with the layers' updates,
so BatchNormalization moves its statistics as in fit); the loss and gradients are the compiled
model's total loss and K.gradients of it; the optimizer update is one apply_gradients of a
fresh copy on placeholders fed with the gradients.
"""

from ..platform.compat import variable_names
from ..protocol import Array, Result, Stage, indexed, unavailable
from . import stages


class Graph(object):
    """stages.Eager's counterpart: run a model on arrays, read variables, in the session."""

    def __init__(self, np, keras):
        self.np, self.K = np, keras.backend

    def run(self, probe, x, training):
        K = self.K
        xs = list(x) if isinstance(x, (list, tuple)) else [x]
        inputs = list(probe.inputs)
        # a tensor both fed and fetched is refused by a session: a nested model called on the
        # model's own input gets the fed value back
        fed = {id(t): value for t, value in zip(inputs, xs)}
        fetch = [t for t in probe.outputs if id(t) not in fed]
        updates = list(probe.updates) if training else []
        fn = K.function([*inputs, K.learning_phase()], fetch, updates=updates)
        got = iter(fn([*xs, 1 if training else 0]) if fetch else [])
        return [fed[id(t)] if id(t) in fed else next(got) for t in probe.outputs]

    def read(self, variables):
        return [self.np.asarray(v) for v in self.K.batch_get_value(list(variables))]


def gradients(np, tf, keras, model, xb, yb, result, arrays):
    """The compiled model's total loss on the batch (training mode) and its gradients."""
    K = keras.backend
    variables = list(model.trainable_weights)
    result[Result.TRAINABLE_NAMES] = variable_names(variables)
    x, y, weights = model._standardize_user_data(xb, yb)
    feeds = list(model._feed_inputs) + list(model._feed_targets)
    values = list(x) + list(y or [])
    for placeholder, w in zip(model._feed_sample_weights, weights or []):
        feeds.append(placeholder)
        values.append(w if w is not None else np.ones(len(values[0]), dtype=np.float32))
    grads = [stages.dense(tf, g) for g in K.gradients(model.total_loss, variables)]
    wanted = [g for g in grads if g is not None]
    fn = K.function([*feeds, K.learning_phase()], [model.total_loss, *wanted])
    out = fn([*values, 1])
    result[Result.PROBE_LOSS] = float(out[0])
    found = iter(out[1:])
    for i, (g, v) in enumerate(zip(grads, variables)):
        value = next(found) if g is not None else np.zeros(v.shape, dtype=v.dtype.as_numpy_dtype)
        arrays[indexed(Array.GRAD, i)] = np.asarray(value)
    return [arrays[indexed(Array.GRAD, i)] for i in range(len(variables))]


def update(np, tf, keras, opt, variables, grads, result, arrays):
    """One step of a fresh optimizer from `grads` on `variables`, in the session: each
    variable's change (Array.UPDATE). The caller restores the variables."""
    if opt is None:
        return
    K = keras.backend
    try:
        holders = [K.placeholder(shape=g.shape, dtype=v.dtype.base_dtype) for g, v in
                   zip(grads, variables)]  # fmt: skip
        op = opt.apply_gradients(zip(holders, variables))
        session = K.get_session()
        session.run(tf.compat.v1.variables_initializer(opt.variables()))
        before = K.batch_get_value(variables)
        session.run(op, feed_dict=dict(zip(holders, grads)))
        after = K.batch_get_value(variables)
        for i, (a, b) in enumerate(zip(after, before)):
            arrays[indexed(Array.UPDATE, i)] = np.asarray(a) - np.asarray(b)
        result[Result.UPDATE_OPTIMIZER] = type(opt).__name__
    except Exception as exc:  # not measured, never substituted
        result[unavailable(Stage.OPTIMIZER)] = (
            "a fresh copy of %s could not apply the gradients in graph mode (%s: %s)"
            % (type(opt).__name__, type(exc).__name__, exc)
        )
