"""A script cell's result, read after the script's last line from what the Recorder kept.

One function per kind of evidence (loss, weights, data, metrics, predictions, optimizer), each
run on its own: a failure to record one is a warning in the cell and never loses the others,
nor fails a script that exited 0. What a failed one would have set gets its empty value.
"""

import os

from ..platform.compat import variable_names
from ..platform.hashing import arrays_sha256, weights_sha256
from ..protocol import Array, Result, ScriptInfo, indexed
from . import tf1 as tf1_hooks


class Found(object):
    """What the gatherers share: the result and arrays they fill, the script's info, the
    TF 1 train op's record (or None) and the loss the script wrote with tf.summary."""

    def __init__(self, result, arrays, info):
        self.result, self.arrays, self.info = result, arrays, info
        self.tf1 = None
        self.summary_loss = []


def finish(rec, result, arrays, info):
    found = Found(result, arrays, info)
    summaries = rec.guard("tf.summary scalars", read_summaries, rec) or {}
    rec.logged.update(summaries)
    found.summary_loss = summaries.get("summary:loss") or []
    if not rec.models:
        found.tf1 = rec.guard("TF1 train op", tf1_hooks.finish, rec)
    for what, gather in (
        ("loss", _loss),
        ("weights", _weights),
        ("data", _data),
        ("metrics", _metrics),
        ("predictions", _predictions),
        ("optimizer", _optimizer),
    ):
        rec.guard(what, gather, rec, found)
    empty = (
        (result, Result.LOSS, []),
        (info, ScriptInfo.LOSS_FROM, None),
        (info, ScriptInfo.MODELS, []),
        (info, ScriptInfo.DATA, rec.data),
        (result, Result.DATA_SHA256, None),
        (result, Result.METRICS, {}),
        (info, ScriptInfo.METRICS_FROM, None),
    )
    for where, key, value in empty:
        where.setdefault(key, value)
    result[Result.EPOCH_METRICS] = rec.epochs
    result[Result.LOGS] = rec.logged
    info[ScriptInfo.SEED_CALLS] = rec.seed_calls
    if rec.seed_calls:
        info[ScriptInfo.SEEDS_ITSELF] = True
    info[ScriptInfo.WARNINGS] = rec.warnings


def _loss(rec, found):
    """The per-step loss, from the first source that has one (ScriptInfo.LOSS_FROM)."""
    result, info, tf1 = found.result, found.info, found.tf1
    if rec.fit_losses:
        result[Result.LOSS], info[ScriptInfo.LOSS_FROM] = rec.fit_losses, "keras"
    elif tf1 is not None and tf1[3]:
        result[Result.LOSS], info[ScriptInfo.LOSS_FROM] = tf1[3], "session.run"
    elif rec.log_losses:
        result[Result.LOSS], info[ScriptInfo.LOSS_FROM] = rec.log_losses, "log"
    elif rec.tape_losses:
        result[Result.LOSS], info[ScriptInfo.LOSS_FROM] = rec.tape_losses, "gradient_tape"
    else:
        own = found.summary_loss
        result[Result.LOSS] = [v for _, v in sorted(own, key=lambda sv: sv[0])]
        info[ScriptInfo.LOSS_FROM] = "tf.summary" if own else None


def _weights(rec, found):
    """Initial and final weights: of every trained Keras model (the first one's arrays are
    kept), else of a custom loop's variables, else of TF 1's train op."""
    np, result, arrays, info = rec.np, found.result, found.arrays, found.info
    models = []
    for m in rec.models:
        entry = rec.guard(
            "final weights of model %r" % getattr(m, "name", "?"),
            _model_entry,
            rec,
            m,
            found,
            not models,
        )
        if entry is not None:
            models.append(entry)
    if not rec.models and rec.loop_vars is not None:
        final = rec.guard("final weights", lambda: [np.array(v) for v in rec.loop_vars]) or []
        keep(result, arrays, np, rec.loop_init, final, variable_names(rec.loop_vars))
        info[ScriptInfo.CUSTOM_LOOP] = {
            "steps_seen": rec.loop_steps,
            "in_tf_function": rec.loop_traced,
        }
        if rec.loop_traced and not result.get(Result.LOSS):
            rec.warn(
                "custom loop",
                RuntimeError(
                    "the training step runs in a tf.function: its per-step loss is not visible; "
                    "record it with `from tfrepro import log; log('loss', value, step)`"
                ),
            )
    if found.tf1 is not None:
        init, final, names, _, data, info[ScriptInfo.TF1_TRAIN_OP] = found.tf1
        keep(result, arrays, np, init, final, names)
        if data:
            rec.data.append({"fit": None, "sha256": data, "what": "arrays fed to the train op"})
    elif not rec.models and rec.loop_vars is None:
        rec.warn(
            "training",
            RuntimeError(
                "no fit, train_on_batch or apply_gradients was seen: no weights were recorded"
            ),
        )
    info[ScriptInfo.MODELS] = models


def _model_entry(rec, model, found, first):
    """One trained model's record; the first one's weights also go into the arrays."""
    final = rec.guard("final weights", rec.weights, model) or []
    init_sha, init = rec.init.get(id(model), (None, []))
    if first:
        keep(found.result, found.arrays, rec.np, init, final, variable_names(model.weights))
    return {
        "name": str(getattr(model, "name", "")),
        "class": type(model).__name__,
        "init_sha256": init_sha,
        "final_sha256": weights_sha256(final) if final else None,
    }


def _data(rec, found):
    """The data fingerprint: of the first fit's arrays (or pipeline sources) that have one."""
    found.info[ScriptInfo.DATA] = rec.data
    if not rec.data and rec.sources:  # a custom loop over tf.data: the arrays it was built from
        rec.data.append(
            {
                "fit": None,
                "sha256": arrays_sha256(enumerate(rec.sources)),
                "what": "arrays given to tf.data sources",
            }
        )
    found.result[Result.DATA_SHA256] = next((d["sha256"] for d in rec.data if d["sha256"]), None)


def _metrics(rec, found):
    """The final metrics: of the script's last evaluate, else of the last epoch's logs."""
    result, info = found.result, found.info
    if rec.metrics is not None:
        result[Result.METRICS], info[ScriptInfo.METRICS_FROM] = rec.metrics, "evaluate"
    elif rec.epochs:
        result[Result.METRICS], info[ScriptInfo.METRICS_FROM] = rec.epochs[-1], "last epoch logs"
    else:
        result[Result.METRICS], info[ScriptInfo.METRICS_FROM] = {}, None


def _predictions(rec, found):
    """The model of the script's last evaluate on arrays, predicting those arrays."""
    if rec.eval is None:
        return
    np, arrays = rec.np, found.arrays
    model, x, y = rec.eval
    rec.keras_depth += 1  # Keras' own calls, not the script's
    try:
        arrays[Array.PREDICTIONS] = np.asarray(model.predict(x, verbose=0))
    finally:
        rec.keras_depth -= 1
    if y is not None:
        labels = np.asarray(y)
        if labels.ndim == 2:  # one-hot → class indices, as compare's churn counts them
            labels = labels.argmax(axis=1) if labels.shape[1] > 1 else labels[:, 0]
        arrays[Array.LABELS] = labels


def _optimizer(rec, found):
    opt = getattr(rec.models[0], "optimizer", None) if rec.models else None
    if opt is not None:
        found.result[Result.OPTIMIZER_CLASS] = "%s.%s" % (type(opt).__module__, type(opt).__name__)


def read_summaries(rec):
    """Scalars the script wrote with tf.summary (TensorBoard's callback included), read after
    it ended from the event files it wrote in its folder during the cell: nothing is added to
    the script's graph. {"summary:<folder>/<tag>": [[step, value], ...]}."""
    tf = rec.tf
    out = {}
    for root, _, names in os.walk(rec.cwd):
        for name in sorted(names):
            path = os.path.join(root, name)
            if "tfevents" not in name or os.path.getmtime(path) < rec.started:
                continue  # not this cell's (e.g. an earlier run's, copied with the folder)
            folder = os.path.relpath(root, rec.cwd)
            prefix = "summary:" + ("" if folder == "." else folder + "/")
            for event in tf.compat.v1.train.summary_iterator(path):
                for v in event.summary.value:
                    value = _scalar(tf, v)
                    if value is not None:
                        out.setdefault(prefix + v.tag, []).append([int(event.step), value])
    return out


def _scalar(tf, v):
    """A summary value as a float, or None when it is no scalar number."""
    if v.HasField("simple_value"):
        return float(v.simple_value)
    if v.HasField("tensor"):
        arr = tf.make_ndarray(v.tensor)
        if arr.size == 1 and arr.dtype.kind in "fiu":
            return float(arr.reshape(()))
    return None


def keep(result, arrays, np, init, final, names):
    """Initial and final weights into the result (hashes) and the arrays."""
    if init:
        result[Result.INIT_WEIGHTS_SHA256] = weights_sha256(init)
        for i, w in enumerate(init):
            arrays[indexed(Array.INIT, i)] = w
    if final:
        result[Result.FINAL_WEIGHTS_SHA256] = weights_sha256(final)
        for i, w in enumerate(final):
            arrays[indexed(Array.FINAL, i)] = w
        arrays[Array.WEIGHT_NAMES] = np.array(names)
