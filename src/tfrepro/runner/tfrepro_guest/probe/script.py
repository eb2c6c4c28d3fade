"""`tfrepro explain` on a script: at the script's first `fit`, the probe's stages, then the end.

The model is the one the script built and compiled, the batches are the first ones `fit` was
given (arrays: the first rows, in order, before the validation split; tf.data: the first
elements of the pipeline), the loss is the model's compiled loss, the optimizer a fresh copy of
the compiled one, the trajectory K `train_on_batch` steps. With A's probe given (B, or A's
rerun), A's initial weights, A's batches and A's gradients are transplanted, so every stage
compares like with like; the data stage compares B's own batches with A's.
"""

from ..cell.train import batch_step, copy_optimizer
from ..platform.compat import variable_names
from ..platform.hashing import arrays_sha256
from ..protocol import Array, ProbeSpec, Result, Stage, indexed, unavailable
from . import graph, stages

BATCH_BYTES = 64 << 20  # the trajectory's batches are saved for B: at most this much


class ProbeDone(BaseException):
    """Ends the script after the probe (a BaseException: the script's `except Exception`
    around its fit cannot swallow it)."""


class ProbeFailed(BaseException):
    """The probe cannot run on this script; the message says why and what to do."""


def _arg(args, kwargs, i, name, default=None):
    return args[i] if len(args) > i else kwargs.get(name, default)


def _nbytes(np, tf, batch):
    return sum(np.asarray(a).nbytes for a in tf.nest.flatten(batch))


def first_batches(np, tf, x, y, batch_size, validation_split, n):
    """The first `n` batches `fit` was given, in order: ([(x, y)], how they were taken)."""
    if isinstance(x, tf.data.Dataset):
        out = []
        for element in x.take(n):
            element = tf.nest.map_structure(np.asarray, element)
            if not isinstance(element, tuple) or len(element) < 2:
                raise ProbeFailed(
                    "explain needs a tf.data pipeline of (x, y) batches; this "
                    "one yields %s" % type(element).__name__
                )
            out.append((element[0], element[1]))
        return out, "the first batches of the tf.data pipeline given to fit"
    flat = tf.nest.flatten(x) if x is not None else []
    if not flat or not hasattr(flat[0], "shape") or y is None:
        raise ProbeFailed(
            "explain needs fit(x, y) with arrays or fit(dataset) with a tf.data.Dataset; the "
            "script's first fit was given %s" % type(x).__name__
        )
    total = len(flat[0])
    if validation_split:
        total = int(total * (1.0 - float(validation_split)))
    bs = int(batch_size or 32)
    out = []
    for lo in range(0, min(total, n * bs), bs):
        rows = slice(lo, min(lo + bs, total))
        out.append(
            tuple(tf.nest.map_structure(lambda a, r=rows: np.asarray(a)[r], v) for v in (x, y))
        )
    return out, "the first rows of the arrays given to fit, in order (fit shuffles its own copy)"


def _save(arrays, batches, tf):
    for i, (x, y) in enumerate(batches):
        for j, a in enumerate(tf.nest.flatten(x)):
            arrays[indexed(Array.BATCH_X, i, j)] = a
        for j, a in enumerate(tf.nest.flatten(y)):
            arrays[indexed(Array.BATCH_Y, i, j)] = a


def _load(np, tf, path, own):
    """A's batches, packed into this side's structure (as many as A saved)."""
    with np.load(path, allow_pickle=False) as z:
        keys = set(z.files)
        out = []
        for i in range(len(own) if own else 0):
            if indexed(Array.BATCH_X, i, 0) not in keys:
                break
            parts = []
            for prefix, like in ((Array.BATCH_X, own[i][0]), (Array.BATCH_Y, own[i][1])):
                n = len([k for k in keys if k.startswith(indexed(prefix, i) + "_")])
                flat = [np.asarray(z[indexed(prefix, i, j)]) for j in range(n)]
                if len(flat) != len(tf.nest.flatten(like)):
                    raise ProbeFailed(
                        "A's batches and this side's have different structures "
                        "(%d vs %d arrays): the scripts' data differ"
                        % (len(flat), len(tf.nest.flatten(like)))
                    )
                parts.append(tf.nest.pack_sequence_as(like, flat))
            out.append(tuple(parts))
        return out


def _loss_of(model, keras, tf):
    """(loss(x, y) in training mode as the model computes it when training, where it's from)."""
    if hasattr(model, "compute_loss"):  # Keras 3, tf.keras >= 2.9: compiled loss + regularizers

        def loss(x, y):
            return model.compute_loss(x=x, y=y, y_pred=model(x, training=True))

        where = "model.compute_loss"
    elif getattr(model, "compiled_loss", None) is not None:

        def loss(x, y):
            return model.compiled_loss(
                y, model(x, training=True), regularization_losses=model.losses
            )

        where = "model.compiled_loss"
    else:
        fn = keras.losses.get(model.loss)

        def loss(x, y):
            value = tf.reduce_mean(fn(y, model(x, training=True)))
            return value + tf.add_n(model.losses) if model.losses else value

        where = "the compiled loss function"

    def on_tensors(x, y):  # tf.keras' compiled loss reads shapes as tensors have them
        return loss(*(tf.nest.map_structure(tf.convert_to_tensor, v) for v in (x, y)))

    return on_tensors, where


def _keras_of(model, compat):
    import importlib

    for cls in type(model).__mro__:  # a subclass defined in the script is in __main__
        root = cls.__module__.split(".")[0]
        if root == "tensorflow":
            return compat.tf.keras
        if root in ("keras", "tf_keras"):
            return importlib.import_module(root)
    return compat.keras


def _values_sha256(np, a):
    """A hash of the values alone (as float64, so float32 0.5 and float64 0.5 agree), for
    numbers; None for other dtypes (strings)."""
    if a.dtype.kind not in "biuf":
        return None
    return arrays_sha256([("a", np.asarray(a, dtype=np.float64))])


def _fully_built(model):
    """Whether every weight the model will train with exists: the model has weights (Keras 2
    raises for an unbuilt model's) and every layer is built (a Sequential whose first layer is
    a built model still builds the rest inside fit, Keras 3)."""
    try:
        if not model.weights:
            return False
    except ValueError:
        return False
    return all(getattr(layer, "built", True) for layer in getattr(model, "layers", []))


def at_first_fit(rec, model, args, kwargs, spec, result, arrays):
    """The stages on the script's model and first batches; raises ProbeDone (or ProbeFailed)."""
    np, tf = rec.np, rec.tf
    keras = _keras_of(model, rec.compat)
    if getattr(model, "optimizer", None) is None:
        raise ProbeFailed("the script's first fit is on a model that is not compiled")
    steps = int(spec.get(ProbeSpec.STEPS, 20))
    x, y = _arg(args, kwargs, 0, "x"), _arg(args, kwargs, 1, "y")
    own, taken = first_batches(
        np,
        tf,
        x,
        y,
        _arg(args, kwargs, 2, "batch_size"),
        _arg(args, kwargs, 6, "validation_split", 0.0),
        steps,
    )
    if not own:
        raise ProbeFailed("the script's first fit was given no training data")
    own = own[: max(1, BATCH_BYTES // max(1, _nbytes(np, tf, own[0])))]
    named = [
        ("%d.%d" % (i, j), a) for i, b in enumerate(own) for j, a in enumerate(tf.nest.flatten(b))
    ]
    result[Result.DATA_SHA256_USED] = result[Result.DATA_SHA256] = arrays_sha256(named)
    result[Result.PROBE_DATA] = "%s: %d batches" % (taken, len(own))
    result[Result.PROBE_BATCH] = [  # this side's own first batch, what the data stage names
        {
            "name": "%s%s" % (part, "[%d]" % j if len(flat) > 1 else ""),
            "dtype": str(a.dtype),
            "shape": list(a.shape),
            "sha256": arrays_sha256([("a", a)]),
            "values_sha256": _values_sha256(np, a),
        }
        for part, flat in (("x", tf.nest.flatten(own[0][0])), ("y", tf.nest.flatten(own[0][1])))
        for j, a in enumerate(np.asarray(v) for v in flat)
    ]
    source = spec.get(ProbeSpec.WEIGHTS_PATH)
    batches = _load(np, tf, source, own) if source else own
    _save(arrays, batches, tf)
    arrays[Array.BATCH_INDEX] = np.arange(len(tf.nest.flatten(batches[0][0])[0]))

    if not _fully_built(model):  # built inside fit, on its first batch: built here the same way
        model(tf.nest.map_structure(tf.convert_to_tensor, batches[0][0]), training=False)
        result[Result.BUILT_BY_PROBE] = True
    result[Result.CONFIGS] = stages.configs(model, model.loss)
    init = [np.array(w, copy=True) for w in model.get_weights()]
    arrays[Array.WEIGHT_NAMES] = np.array(variable_names(model.weights))
    for i, w in enumerate(init):
        arrays[indexed(Array.INIT, i)] = w
    try:
        start = stages.start(np, model, spec, result)
    except stages.Untransplantable as exc:  # other variables (a layer's weights changed form)
        why = "%s; the init and config stages show how the models differ" % exc
        for stage in (Stage.FORWARD, Stage.TRAIN_FORWARD, Stage.LOSS, Stage.GRADIENT,
                      Stage.OPTIMIZER, Stage.TRAJECTORY):  # fmt: skip
            result[unavailable(stage)] = why
        arrays[Array.TRAJECTORY] = np.zeros((0, 0))
        raise ProbeDone() from None
    xb, yb = batches[0]
    in_graph = not tf.executing_eagerly()  # a TF 1.x script in graph mode
    backend = graph.Graph(np, keras) if in_graph else None
    stages.forward(np, keras, model, xb, result, arrays, backend)
    model.set_weights(start)
    if in_graph:
        result[Result.LOSS_FROM] = "model.total_loss (graph mode)"
        grads = graph.gradients(np, tf, keras, model, xb, yb, result, arrays)
    else:
        loss_of, result[Result.LOSS_FROM] = _loss_of(model, keras, tf)
        grads = stages.gradients(np, tf, model, loss_of, xb, yb, result, arrays)
    opt, why = copy_optimizer(model.optimizer)
    if opt is None:
        result[unavailable(Stage.OPTIMIZER)] = why
    given = stages.given_gradients(np, spec, grads)
    if in_graph:
        graph.update(np, tf, keras, opt, list(model.trainable_weights), given, result, arrays)
    else:
        stages.update(np, tf, opt, list(model.trainable_variables), given, result, arrays)
    model.set_weights(start)

    step = batch_step(tf, model, keras.__name__ == "keras" and rec.compat.keras3)
    stages.trajectory(np, model, step, batches, result, arrays)
    stages.record_metrics(model, result)
    raise ProbeDone()


_NO_MODEL = (
    "a custom training loop: tfrepro sees its variables, gradients and optimizer at the "
    "first apply_gradients, not its model or batch"
)


def at_first_apply(rec, optimizer, grads_and_vars, spec, result, arrays):
    """A custom loop's probe at its first eager `apply_gradients`: initial variables, the
    optimizer's configuration, the loss and gradients of the first step (comparable only when
    both sides start from the same variables), one update of a fresh copy of the optimizer from
    A's variables and gradients. Raises ProbeDone (or ProbeFailed)."""
    np, tf = rec.np, rec.tf
    if not tf.executing_eagerly():
        raise ProbeFailed(
            "the script's first apply_gradients runs inside a tf.function: explain "
            "needs an eager step (or a Keras fit) to read its gradients"
        )
    pairs = [(g, v) for g, v in grads_and_vars if g is not None]
    variables = [v for _, v in pairs]
    own = [np.array(v) for v in variables]
    names = variable_names(variables)
    arrays[Array.WEIGHT_NAMES] = np.array(names)
    for i, w in enumerate(own):
        arrays[indexed(Array.INIT, i)] = w
    sources = rec.sources
    if sources:
        result[Result.DATA_SHA256_USED] = result[Result.DATA_SHA256] = arrays_sha256(
            enumerate(sources)
        )
        result[Result.PROBE_DATA] = (
            "the arrays given to tf.data sources (the loop's batches: not seen)"
        )
    else:
        result[unavailable(Stage.DATA)] = (
            "the loop's data does not come from tf.data from_tensor_slices/from_tensors arrays"
        )
    arrays[Array.BATCH_INDEX] = np.zeros(0, dtype=np.int64)
    arrays[Array.TRAJECTORY] = np.zeros((0, 0))
    result[Result.CONFIGS] = {
        "optimizer": {"class": type(optimizer).__name__, "config": stages.config_of(optimizer)}
    }
    for stage in (Stage.FORWARD, Stage.TRAIN_FORWARD):
        result[unavailable(stage)] = _NO_MODEL
    result[unavailable(Stage.TRAJECTORY)] = (
        "a custom loop's steps are the script's own: not run in lockstep"
    )
    result[Result.TRAINABLE_NAMES] = names
    source = spec.get(ProbeSpec.WEIGHTS_PATH)
    a_init = stages.load_list(np, source, Array.INIT) if source else own
    same = len(a_init) == len(own) and all(
        a.shape == b.shape and np.array_equal(a, b) for a, b in zip(a_init, own)
    )
    if same:
        for i, (g, _) in enumerate(pairs):
            arrays[indexed(Array.GRAD, i)] = np.asarray(stages.dense(tf, g))
        if rec.pending is not None:
            result[Result.PROBE_LOSS] = rec.pending
        else:
            result[unavailable(Stage.LOSS)] = "the step's loss is not a scalar GradientTape target"
    else:
        why = (
            "computed by the script from its own initial variables, which differ from A's "
            "(see init): not comparable"
        )
        result[unavailable(Stage.GRADIENT)] = result[unavailable(Stage.LOSS)] = why
        for v, w in zip(variables, a_init):
            v.assign(w)
    grads = stages.given_gradients(np, spec, [np.asarray(stages.dense(tf, g)) for g, _ in pairs])
    if len(grads) != len(variables):  # A's gradients were not measured either
        result[unavailable(Stage.OPTIMIZER)] = "A's gradients are not comparable (see gradient)"
    else:
        opt, why = copy_optimizer(optimizer)
        if opt is None:
            result[unavailable(Stage.OPTIMIZER)] = why
        stages.update(np, tf, opt, variables, grads, result, arrays)
    raise ProbeDone()
