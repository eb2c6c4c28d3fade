"""`tfrepro explain` on a script: at the script's first `fit`, the probe's stages, then the end.

The model is the one the script built and compiled, the batches are the first ones `fit` was
given (arrays: the first rows, in order, before the validation split; tf.data: the first
elements of the pipeline), the loss is the model's compiled loss, the optimizer a fresh copy of
the compiled one, the trajectory K `train_on_batch` steps. With A's probe given (B, or A's
rerun), A's initial weights, A's batches and A's gradients are transplanted, so every stage
compares like with like; the data stage compares B's own batches with A's.
"""

from . import probe as stages
from .hashing import arrays_sha256

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
                raise ProbeFailed("explain needs a tf.data pipeline of (x, y) batches; this "
                                  "one yields %s" % type(element).__name__)
            out.append((element[0], element[1]))
        return out, "the first batches of the tf.data pipeline given to fit"
    flat = tf.nest.flatten(x) if x is not None else []
    if not flat or not hasattr(flat[0], "shape") or y is None:
        raise ProbeFailed(
            "explain needs fit(x, y) with arrays or fit(dataset) with a tf.data.Dataset; the "
            "script's first fit was given %s" % type(x).__name__)
    total = len(flat[0])
    if validation_split:
        total = int(total * (1.0 - float(validation_split)))
    bs = int(batch_size or 32)
    out = []
    for lo in range(0, min(total, n * bs), bs):
        hi = min(lo + bs, total)
        out.append(tuple(tf.nest.map_structure(lambda a: np.asarray(a)[lo:hi], v)  # noqa: B023
                         for v in (x, y)))
    return out, "the first rows of the arrays given to fit, in order (fit shuffles its own copy)"


def _save(arrays, batches, tf):
    for i, (x, y) in enumerate(batches):
        for j, a in enumerate(tf.nest.flatten(x)):
            arrays["bx_%d_%d" % (i, j)] = a
        for j, a in enumerate(tf.nest.flatten(y)):
            arrays["by_%d_%d" % (i, j)] = a


def _load(np, tf, path, own):
    """A's batches, packed into this side's structure (as many as A saved)."""
    with np.load(path, allow_pickle=False) as z:
        keys = set(z.files)
        out = []
        for i in range(len(own) if own else 0):
            if "bx_%d_0" % i not in keys:
                break
            parts = []
            for prefix, like in (("bx", own[i][0]), ("by", own[i][1])):
                n = len([k for k in keys if k.startswith("%s_%d_" % (prefix, i))])
                flat = [np.asarray(z["%s_%d_%d" % (prefix, i, j)]) for j in range(n)]
                if len(flat) != len(tf.nest.flatten(like)):
                    raise ProbeFailed("A's batches and this side's have different structures "
                                      "(%d vs %d arrays): the scripts' data differ"
                                      % (len(flat), len(tf.nest.flatten(like))))
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
            return model.compiled_loss(y, model(x, training=True),
                                       regularization_losses=model.losses)
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


def at_first_fit(rec, model, args, kwargs, spec, result, arrays):
    """The stages on the script's model and first batches; raises ProbeDone (or ProbeFailed)."""
    np, tf = rec.np, rec.tf
    keras = _keras_of(model, rec.compat)
    if getattr(model, "optimizer", None) is None:
        raise ProbeFailed("the script's first fit is on a model that is not compiled")
    steps = int(spec.get("steps", 20))
    x, y = _arg(args, kwargs, 0, "x"), _arg(args, kwargs, 1, "y")
    own, taken = first_batches(np, tf, x, y, _arg(args, kwargs, 2, "batch_size"),
                               _arg(args, kwargs, 6, "validation_split", 0.0), steps)
    if not own:
        raise ProbeFailed("the script's first fit was given no training data")
    own = own[:max(1, BATCH_BYTES // max(1, _nbytes(np, tf, own[0])))]
    named = [("%d.%d" % (i, j), a) for i, b in enumerate(own) for j, a in
             enumerate(tf.nest.flatten(b))]
    result["data_sha256_used"] = result["data_sha256"] = arrays_sha256(named)
    result["probe_data"] = "%s: %d batches" % (taken, len(own))
    result["probe_batch"] = [  # this side's own first batch, what the data stage names
        {"name": "%s%s" % (part, "[%d]" % j if len(flat) > 1 else ""), "dtype": str(a.dtype),
         "shape": list(a.shape), "sha256": arrays_sha256([("a", a)])}
        for part, flat in (("x", tf.nest.flatten(own[0][0])), ("y", tf.nest.flatten(own[0][1])))
        for j, a in enumerate(np.asarray(v) for v in flat)]
    batches = _load(np, tf, spec["weights_path"], own) if spec.get("weights_path") else own
    _save(arrays, batches, tf)
    arrays["batch_index"] = np.arange(len(tf.nest.flatten(batches[0][0])[0]))

    if not model.weights:  # built inside fit, on its first batch: built here the same way
        model(tf.nest.map_structure(tf.convert_to_tensor, batches[0][0]), training=False)
        result["built_by_probe"] = True
    result["configs"] = stages.configs(model, model.loss)
    init = [np.array(w, copy=True) for w in model.get_weights()]
    arrays["weight_names"] = np.array([str(getattr(v, "path", None) or v.name)
                                       for v in model.weights])
    for i, w in enumerate(init):
        arrays["init_%d" % i] = w
    start = stages.start(np, model, spec, result)
    xb, yb = batches[0]
    stages.forward(np, keras, model, xb, result, arrays)
    model.set_weights(start)
    loss_of, result["loss_from"] = _loss_of(model, keras, tf)
    grads = stages.gradients(np, tf, model, loss_of, xb, yb, result, arrays)
    from .train import copy_optimizer

    opt, why = copy_optimizer(model.optimizer)
    if opt is None:
        result["optimizer_unavailable"] = why
    stages.update(np, tf, opt, list(model.trainable_variables),
                  stages.given_gradients(np, spec, grads), result, arrays)
    model.set_weights(start)

    def step(xs, ys):
        model.reset_metrics()
        return rec.scalar(model.train_on_batch(xs, ys))

    if keras.__name__ == "keras" and rec.compat.keras3:  # Keras 3.4 retraces train_on_batch
        from .train import keras3_step

        step = keras3_step(tf, model)  # bitwise train_on_batch, ~80x faster on 2.16
    stages.trajectory(np, model, step, batches, result, arrays)
    raise ProbeDone()


_NO_MODEL = ("a custom training loop: tfrepro sees its variables, gradients and optimizer at the "
             "first apply_gradients, not its model or batch")


def at_first_apply(rec, optimizer, grads_and_vars, spec, result, arrays):
    """A custom loop's probe at its first eager `apply_gradients`: initial variables, the
    optimizer's configuration, the loss and gradients of the first step (comparable only when
    both sides start from the same variables), one update of a fresh copy of the optimizer from
    A's variables and gradients. Raises ProbeDone (or ProbeFailed)."""
    np, tf = rec.np, rec.tf
    if not tf.executing_eagerly():
        raise ProbeFailed("the script's first apply_gradients runs inside a tf.function: explain "
                          "needs an eager step (or a Keras fit) to read its gradients")
    pairs = [(g, v) for g, v in grads_and_vars if g is not None]
    variables = [v for _, v in pairs]
    own = [np.array(v) for v in variables]
    names = [str(getattr(v, "path", None) or v.name) for v in variables]
    arrays["weight_names"] = np.array(names)
    for i, w in enumerate(own):
        arrays["init_%d" % i] = w
    sources = rec.sources
    if sources:
        result["data_sha256_used"] = result["data_sha256"] = arrays_sha256(enumerate(sources))
        result["probe_data"] = "the arrays given to tf.data sources (the loop's batches: not seen)"
    else:
        result["data_unavailable"] = "the loop's data does not come from tf.data " \
            "from_tensor_slices/from_tensors arrays"
    arrays["batch_index"] = np.zeros(0, dtype=np.int64)
    arrays["trajectory"] = np.zeros((0, 0))
    result["configs"] = {"optimizer": {"class": type(optimizer).__name__,
                                       "config": stages._config(optimizer)}}
    for stage in ("forward", "train_forward"):
        result[stage + "_unavailable"] = _NO_MODEL
    result["trajectory_unavailable"] = "a custom loop's steps are the script's own: not run " \
        "in lockstep"
    result["trainable_names"] = names
    a_init = stages.load_list(np, spec["weights_path"], "init_") if spec.get("weights_path") \
        else own
    same = len(a_init) == len(own) and all(
        a.shape == b.shape and np.array_equal(a, b) for a, b in zip(a_init, own))
    if same:
        for i, (g, _) in enumerate(pairs):
            arrays["grad_%d" % i] = np.asarray(g)
        if rec.pending is not None:
            result["probe_loss"] = rec.pending
        else:
            result["loss_unavailable"] = "the step's loss is not a scalar GradientTape target"
    else:
        why = "computed by the script from its own initial variables, which differ from A's " \
              "(see init): not comparable"
        result["gradient_unavailable"] = result["loss_unavailable"] = why
        for v, w in zip(variables, a_init):
            v.assign(w)
    grads = stages.given_gradients(np, spec, [np.asarray(g) for g, _ in pairs])
    if len(grads) != len(variables):  # A's gradients were not measured either
        result["optimizer_unavailable"] = "A's gradients are not comparable (see gradient)"
    else:
        from .train import copy_optimizer

        opt, why = copy_optimizer(optimizer)
        if opt is None:
            result["optimizer_unavailable"] = why
        stages.update(np, tf, opt, variables, grads, result, arrays)
    raise ProbeDone()
