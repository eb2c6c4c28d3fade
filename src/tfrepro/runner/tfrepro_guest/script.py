"""Script mode: the user's own script, unchanged, with tfrepro watching (README, "Your own script").

Before the script's first line: the cell's knobs and seeds (main.prepare, as for model cells),
then hooks on Keras' `fit`, `evaluate`, `train_on_batch`, `compile` (XLA knob only), optimizers'
`apply_gradients`, `GradientTape.gradient`, `tf.data.Dataset.from_tensor_slices/from_tensors`
and the seed functions, and a `tfrepro` module with `log(name, value, step)`. On TF 1.x also
`Session.run` of a train op (script_tf1). Under `tfrepro explain` the first `fit` runs the
probe instead and ends the script (script_probe).

Every hook calls the original exactly once with the user's arguments; whatever tfrepro's own
code around it raises becomes a warning in the cell (`script.warnings`), never the script's
failure. An exception from the script (or TensorFlow) is the cell's failure.
"""

import functools
import math
import os
import random
import runpy
import sys
import time
import traceback
import types

from .hashing import arrays_sha256, weights_sha256

_GUEST_DIR = os.path.dirname(os.path.abspath(__file__))


class Recorder(object):
    def __init__(self, np, compat, job, events):
        self.np, self.compat, self.tf = np, compat, compat.tf
        self.events = events
        self.seed = int(job["seed"])
        self.seeding = job["script"].get("seeding", "cell")
        self.fit_losses = []  # Keras' per-step loss from fit / train_on_batch, in step order
        self.log_losses = []  # log("loss", …)
        self.tape_losses = []  # custom loop: the tape's target at each eager apply_gradients
        self.pending = None
        self.logged = {}
        self.epochs = []
        self.models = []  # trained Keras models, in order of their first fit
        self.init = {}  # id(model) -> (sha, weights)
        self.warnings = []
        self.seed_calls = []
        self.metrics = None
        self.eval = None  # (model, x, y) of the script's last evaluate on arrays
        self.data = []  # [{"fit": i, "sha256": …, "what": …}]
        self.sources = []  # hashes of arrays given to tf.data.Dataset.from_tensor_slices
        self.keras_depth = 0  # inside Keras' own fit/evaluate: its inner calls are not the script's
        self.seed_depth = 0
        self.loop_vars = None  # custom loop: the variables of the first apply_gradients
        self.loop_init = None
        self.loop_steps = 0
        self.loop_traced = False
        self.probe = job.get("probe")  # explain: the probe's spec (script_probe), else None

    # --- never break the script ------------------------------------------------------------
    def warn(self, where, exc):
        msg = "%s: %s: %s" % (where, type(exc).__name__, exc)
        if msg not in self.warnings:
            self.warnings.append(msg)
            self.events.emit("hook_warning", message=msg)

    def guard(self, where, fn, *args):
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - a failing hook is a warning, not the script's
            self.warn(where, exc)
            return None

    # --- values ------------------------------------------------------------------------------
    def scalar(self, value):
        if isinstance(value, (list, tuple)):
            value = value[0]
        return float(self.np.asarray(value))

    def weights(self, model):
        return [self.np.array(w, copy=True) for w in model.get_weights()]

    def log(self, name, value, step=None):
        """The public API (`from tfrepro import log`): one scalar of the script's choosing."""
        try:
            value = float(value)
            if name == "loss":
                self.log_losses.append(value)
            else:
                self.logged.setdefault(str(name), []).append(
                    [None if step is None else int(step), value])
            self.events.emit("log", name="script:" + str(name), value=value, step=step)
        except Exception as exc:  # noqa: BLE001
            self.warn("log(%r)" % (name,), exc)

    def step_loss(self, value):
        step = len(self.fit_losses)
        self.fit_losses.append(value)
        self.events.emit("log", name="loss", value=value, step=step)

    # --- fit / evaluate ------------------------------------------------------------------------
    def first_sight(self, model):
        if any(m is model for m in self.models):
            return
        self.models.append(model)
        w = self.weights(model)
        if not w:
            self.warn("initial weights", RuntimeError(
                "model %r has no weights before its first fit (it is built inside fit): "
                "its initial weights are not recorded" % getattr(model, "name", "?")))
            self.init[id(model)] = (None, [])
        else:
            self.init[id(model)] = (weights_sha256(w), w)

    def fingerprint(self, x, y):
        tf = self.tf
        if isinstance(x, tf.data.Dataset):
            if not self.sources:
                return None, "not measured: the tf.data pipeline is built from files or a generator"
            return arrays_sha256(enumerate(self.sources)), "arrays given to tf.data sources"
        if x is None:
            return None, "not measured: no x given to fit"
        parts = []
        for name, value in (("x", x), ("y", y)):
            if value is None:
                continue
            if isinstance(value, dict):
                parts.extend(("%s.%s" % (name, k), self.np.asarray(value[k])) for k in sorted(value))
            elif isinstance(value, (list, tuple)) and value and hasattr(value[0], "shape"):
                parts.extend(("%s%d" % (name, i), self.np.asarray(v)) for i, v in enumerate(value))
            else:
                parts.append((name, self.np.asarray(value)))
        return arrays_sha256(parts), "arrays given to fit"

    def before_fit(self, model, args, kwargs, callback_cls):
        self.first_sight(model)
        x = args[0] if args else kwargs.get("x")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        sha, what = self.fingerprint(x, y)
        self.data.append({"fit": len(self.data), "sha256": sha, "what": what})
        cb = callback_cls()
        if len(args) > 5:
            args = args[:5] + (list(args[5] or []) + [cb],) + args[6:]
        else:
            kwargs = dict(kwargs)
            kwargs["callbacks"] = list(kwargs.get("callbacks") or []) + [cb]
        return args, kwargs

    def batch_end(self, logs):
        if logs and "loss" in logs:
            self.step_loss(self.scalar(logs["loss"]))

    def epoch_end(self, logs):
        entry = {}
        for k, v in (logs or {}).items():
            try:
                entry[str(k)] = self.scalar(v)
            except Exception:  # noqa: BLE001 - a non-scalar log entry
                continue
        self.epochs.append(entry)
        self.events.emit("epoch", epoch=len(self.epochs) - 1, metrics=entry)

    def after_evaluate(self, model, args, kwargs, out):
        if isinstance(out, dict):
            metrics = dict(out)
        else:
            values = list(out) if isinstance(out, (list, tuple)) else [out]
            metrics = dict(zip(model.metrics_names, values))
            if "compile_metrics" in metrics and hasattr(model, "get_metrics_result"):
                # Keras 3 names the compiled metrics "compile_metrics" in metrics_names;
                # get_metrics_result() has them by their own names (same values)
                metrics = dict(model.get_metrics_result())
        self.metrics = {{"acc": "accuracy"}.get(k, str(k)): self.scalar(v)
                        for k, v in metrics.items()}
        x = args[0] if args else kwargs.get("x")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        if hasattr(x, "shape") and not isinstance(x, self.tf.data.Dataset):
            self.eval = (model, x, y)

    # --- custom loops --------------------------------------------------------------------------
    def tape_target(self, target):
        if self.tf.executing_eagerly() and hasattr(target, "shape"):
            value = self.np.asarray(target)
            if value.size == 1:
                self.pending = float(value.reshape(()))

    def apply(self, grads_and_vars):
        tf = self.tf
        if self.loop_vars is None:
            self.loop_vars = [v for _, v in grads_and_vars]
            with tf.init_scope():  # inside a tf.function trace: still the values before step 1
                self.loop_init = [self.np.array(v) for v in self.loop_vars]
        if tf.executing_eagerly():
            self.loop_steps += 1
            if self.pending is not None:
                self.tape_losses.append(self.pending)
                self.pending = None
        else:
            self.loop_traced = True


def _callback_class(rec, base):
    class TfreproRecorder(base):
        """Added to every fit: reads the logs Keras gives callbacks, changes nothing."""

        def on_train_batch_end(self, batch, logs=None):
            rec.guard("loss capture", rec.batch_end, logs)

        def on_epoch_end(self, epoch, logs=None):
            rec.guard("epoch logs", rec.epoch_end, logs)

    return TfreproRecorder


def _keras_modules(compat):
    import importlib

    found = []
    names = ["keras"] if compat.keras3 or not compat.tf1 else []
    if compat.keras.__name__ not in names:
        names.append(compat.keras.__name__)
    for name in names:
        try:
            found.append(importlib.import_module(name))
        except Exception:  # noqa: BLE001 - absent in this environment
            continue
    try:
        found.append(compat.tf.keras)
    except Exception:  # noqa: BLE001
        pass
    return found


def _patch(owner, name, make):
    original = getattr(owner, name, None)
    if original is None or getattr(original, "_tfrepro", False):
        return
    wrapper = functools.wraps(original)(make(original))
    wrapper._tfrepro = True
    setattr(owner, name, wrapper)


def install(rec, compile_kwargs):
    compat, tf, np = rec.compat, rec.tf, rec.np

    def fit_hook(callback_cls):
        def make(orig):
            def fit(self, *args, **kwargs):
                if rec.probe is not None and rec.keras_depth == 0:
                    rec.keras_depth += 1  # the probe's own Keras calls are not the script's
                    _probe(rec, "at_first_fit", self, args, kwargs)
                if rec.keras_depth == 0:
                    new = rec.guard("fit hook", rec.before_fit, self, args, kwargs, callback_cls)
                    if new is not None:
                        args, kwargs = new
                rec.keras_depth += 1
                try:
                    return orig(self, *args, **kwargs)
                finally:
                    rec.keras_depth -= 1
            return fit
        return make

    def evaluate_make(orig):
        def evaluate(self, *args, **kwargs):
            outer = rec.keras_depth == 0
            rec.keras_depth += 1
            try:
                out = orig(self, *args, **kwargs)
            finally:
                rec.keras_depth -= 1
            if outer:  # not fit's own validation
                rec.guard("evaluate hook", rec.after_evaluate, self, args, kwargs, out)
            return out
        return evaluate

    def train_on_batch_make(orig):
        def train_on_batch(self, *args, **kwargs):
            outer = rec.keras_depth == 0
            if outer and rec.probe is not None:
                _not_probed("train_on_batch")
            if outer:
                rec.guard("train_on_batch hook", rec.first_sight, self)
            rec.keras_depth += 1
            try:
                out = orig(self, *args, **kwargs)
            finally:
                rec.keras_depth -= 1
            if outer:
                rec.guard("train_on_batch hook", lambda: rec.step_loss(rec.scalar(out)))
            return out
        return train_on_batch

    def compile_make(orig):
        def compile(self, *args, **kwargs):
            kwargs.update(compile_kwargs)  # the cell's XLA knob wins over the script's
            return orig(self, *args, **kwargs)
        return compile

    apply_make = apply_make_factory(rec)
    seen = set()
    for keras in _keras_modules(compat):
        model_cls = getattr(keras, "Model", None)
        if model_cls is None or id(model_cls) in seen:
            continue
        seen.add(id(model_cls))
        callback_cls = _callback_class(rec, keras.callbacks.Callback)
        _patch(model_cls, "fit", fit_hook(callback_cls))
        _patch(model_cls, "evaluate", evaluate_make)
        _patch(model_cls, "train_on_batch", train_on_batch_make)
        if compile_kwargs:
            _patch(model_cls, "compile", compile_make)
        opts = keras.optimizers
        for owner in (getattr(opts, "Optimizer", None),
                      getattr(getattr(opts, "legacy", None), "Optimizer", None)):
            if owner is not None and id(owner) not in seen:
                seen.add(id(owner))
                _patch(owner, "apply_gradients", apply_make)

    def gradient_make(orig):
        def gradient(self, target, *args, **kwargs):
            if rec.keras_depth == 0:
                rec.guard("GradientTape hook", rec.tape_target, target)
            return orig(self, target, *args, **kwargs)
        return gradient

    _patch(tf.GradientTape, "gradient", gradient_make)

    def source_make(orig):
        def source(tensors, *args, **kwargs):
            if rec.keras_depth == 0 and tf.executing_eagerly():
                def remember():
                    for t in tf.nest.flatten(tensors):
                        rec.sources.append(np.asarray(t))
                rec.guard("tf.data hook", remember)
            return orig(tensors, *args, **kwargs)
        return staticmethod(source)

    for name in ("from_tensor_slices", "from_tensors"):
        original = tf.data.Dataset.__dict__.get(name)
        if isinstance(original, staticmethod):
            func = source_make(original.__func__)
            setattr(tf.data.Dataset, name, func)

    if compat.tf1:
        from . import script_tf1

        try:
            script_tf1.install(rec, _patch)
        except Exception as exc:  # noqa: BLE001 - the script runs, its Session runs unwatched
            rec.warn("TF1 hooks", exc)
    _install_seed_hooks(rec, np, tf, compat)


def apply_make_factory(rec):
    def apply_make(orig):
        def apply_gradients(self, grads_and_vars, *args, **kwargs):
            if rec.keras_depth == 0 and rec.probe is not None:
                grads_and_vars = list(grads_and_vars)
                rec.keras_depth += 1
                _probe(rec, "at_first_apply", self, grads_and_vars)
            if rec.keras_depth == 0:
                grads_and_vars = list(grads_and_vars)  # a zip can be read once: keep it whole
                rec.guard("apply_gradients hook", rec.apply, grads_and_vars)
            return orig(self, grads_and_vars, *args, **kwargs)
        return apply_gradients
    return apply_make


def _probe(rec, where, *args):
    from . import script_probe

    rec.probe_at = {"at_first_fit": "fit", "at_first_apply": "apply_gradients"}[where]
    try:
        getattr(script_probe, where)(rec, *args, spec=rec.probe, result=rec.result,
                                     arrays=rec.arrays)
    except Exception as exc:  # noqa: BLE001 - the probe's failure, named as such
        rec.result["traceback"] = traceback.format_exc()
        raise script_probe.ProbeFailed("the probe in the script failed: %s: %s"
                                       % (type(exc).__name__, exc))


def _not_probed(call):
    from . import script_probe

    raise script_probe.ProbeFailed(
        "explain on a script starts at its first Keras fit or eager apply_gradients; this "
        "script trains with %s first, which is not probed yet: compare its cells with "
        "`tfrepro compare` instead" % call)


def _caller():
    frame = sys._getframe(2)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_GUEST_DIR):
        frame = frame.f_back
    if frame is None:
        return None
    return "%s:%d" % (os.path.relpath(frame.f_code.co_filename), frame.f_lineno)


def _install_seed_hooks(rec, np, tf, compat):
    def make_seed(name):
        def make(orig):
            def seed(*args, **kwargs):
                if rec.seed_depth:  # keras.utils.set_random_seed calling random.seed, …
                    return orig(*args, **kwargs)
                rec.seed_depth += 1
                try:
                    value = args[0] if args else (list(kwargs.values()) or [None])[0]
                    call = {"call": name, "value": _plain(value), "where": _caller()}
                    if rec.seeding == "cell":
                        call["used"] = rec.seed
                        args = (rec.seed,) + tuple(args[1:]) if args else (rec.seed,)
                        kwargs = {}
                    else:
                        call["used"] = call["value"]
                    rec.seed_calls.append(call)
                    return orig(*args, **kwargs)
                finally:
                    rec.seed_depth -= 1
            return seed
        return make

    owners = [(random, "seed", "random.seed"), (np.random, "seed", "numpy.random.seed")]
    if compat.tf1:
        owners += [(tf, "set_random_seed", "tf.set_random_seed"),
                   (tf.compat.v1, "set_random_seed", "tf.compat.v1.set_random_seed")]
    else:
        owners += [(tf.random, "set_seed", "tf.random.set_seed"),
                   (tf.compat.v1, "set_random_seed", "tf.compat.v1.set_random_seed")]
    for keras in _keras_modules(compat):
        utils = getattr(keras, "utils", None)
        if utils is not None and hasattr(utils, "set_random_seed"):
            owners.append((utils, "set_random_seed", "%s.utils.set_random_seed" % keras.__name__))
    done = set()
    for owner, attr, name in owners:
        key = (id(owner), attr)
        if key in done or getattr(owner, attr, None) is None:
            continue
        done.add(key)
        try:
            _patch(owner, attr, make_seed(name))
        except Exception:  # noqa: BLE001 - a read-only module attribute: not watched
            rec.warn("seed hook", RuntimeError("cannot watch %s" % name))


def _plain(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    try:
        return int(value)
    except Exception:  # noqa: BLE001
        return repr(value)


def _api(rec):
    api = types.ModuleType("tfrepro")
    api.__doc__ = "tfrepro's script API inside a cell: log(name, value, step=None)."
    api.log = rec.log
    api.in_cell = True
    return api


def _execute(script):
    """The script as `python SCRIPT ARGS` (or `python -m MODULE`, or a notebook's code) would
    run it, from the cell's private copy of its folder."""
    cwd = os.getcwd()
    runner = os.path.dirname(_GUEST_DIR)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != runner]
    if script["kind"] == "module":
        sys.path.insert(0, cwd)
        sys.argv = [script["name"]] + list(script["argv"])
        runpy.run_module(script["name"], run_name="__main__", alter_sys=True)
        return
    path = os.path.join(cwd, script["name"])
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    sys.argv = [script["name"]] + list(script["argv"])
    if script["kind"] == "notebook":
        code = compile(script["source"], path, "exec")
        glob = {"__name__": "__main__", "__file__": path, "__builtins__": __builtins__}
        exec(code, glob)
    else:
        runpy.run_path(path, run_name="__main__")


def run(job, events, result, arrays, prepare):
    own = job["script"].get("seeding", "cell") == "script"
    np, compat, compile_kwargs = prepare(job, events, result, seed=not own)
    rec = Recorder(np, compat, job, events)
    rec.result, rec.arrays = result, arrays
    rec.cwd, rec.started = os.getcwd(), time.time() - 1  # event files: mtime in whole seconds
    applied = result["knobs_applied"]
    if job["knobs"].get("optimizer_impl", "keras") != "keras":
        applied["optimizer_impl"] = "not applicable: the script builds its own optimizer"
    try:
        install(rec, compile_kwargs)
    except Exception as exc:  # noqa: BLE001 - run the script unwatched rather than not at all
        rec.warn("installing hooks", exc)
    sys.modules.setdefault("tfrepro", _api(rec))
    info = {"target": job["script"]["name"], "argv": list(job["script"]["argv"]),
            "exit_code": 0, "seeding": rec.seeding}
    result["script"] = info
    failure = None
    from .script_probe import ProbeDone, ProbeFailed

    try:
        _execute(job["script"])
        if rec.probe is not None:
            raise ProbeFailed("the script ended without a Keras fit or an eager "
                              "apply_gradients, where explain on a script starts (TF1 Session "
                              "scripts are not probed yet)")
    except ProbeDone:
        info["probe"] = "ended at the script's first %s" % rec.probe_at
        result["status"] = "ok"
        return
    except ProbeFailed as exc:
        result["status"], result["reason"] = "failed", str(exc)
        return
    except SystemExit as exc:
        code = exc.code
        if code is None or code == 0:
            info["exit_code"] = 0
        elif isinstance(code, int):
            info["exit_code"] = code
            failure = "the script exited with code %d" % code
        else:
            info["exit_code"] = 1
            failure = "the script exited: %s" % (code,)
    except BaseException as exc:  # noqa: BLE001 - the script's own failure is the cell's
        info["exit_code"] = 1
        failure = "%s: %s" % (type(exc).__name__, exc)
        result["traceback"] = traceback.format_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    _finish(rec, result, arrays, info)
    losses = result["loss"]
    bad = [i for i, v in enumerate(losses) if not math.isfinite(v)]
    if bad:
        result["status"] = "diverged"
        result["reason"] = "loss is %r at step %d" % (losses[bad[0]], bad[0]) + (
            " (then %s)" % failure if failure else "")
    elif failure:
        result["status"] = "failed"
        result["reason"] = failure
    else:
        result["status"] = "ok"


def _finish(rec, result, arrays, info):
    """What the script did, read after its last line: weights, metrics, predictions."""
    np = rec.np
    summaries = rec.guard("tf.summary scalars", _summaries, rec) or {}
    rec.logged.update(summaries)
    own = summaries.get("summary:loss") or []
    from . import script_tf1

    tf1 = rec.guard("TF1 train op", script_tf1.finish, rec) if not rec.models else None
    if rec.fit_losses:
        result["loss"], info["loss_from"] = rec.fit_losses, "keras"
    elif tf1 is not None and tf1[3]:
        result["loss"], info["loss_from"] = tf1[3], "session.run"
    elif rec.log_losses:
        result["loss"], info["loss_from"] = rec.log_losses, "log"
    elif rec.tape_losses:
        result["loss"], info["loss_from"] = rec.tape_losses, "gradient_tape"
    else:
        result["loss"] = [v for _, v in sorted(own, key=lambda sv: sv[0])]
        info["loss_from"] = "tf.summary" if own else None
    models = []
    for m in rec.models:
        final = rec.guard("final weights", rec.weights, m) or []
        models.append({"name": str(getattr(m, "name", "")), "class": type(m).__name__,
                       "init_sha256": rec.init[id(m)][0],
                       "final_sha256": weights_sha256(final) if final else None})
        if len(models) == 1:
            init = rec.init[id(m)][1]
            names = [str(getattr(v, "path", None) or getattr(v, "name", "w%d" % i))
                     for i, v in enumerate(m.weights)]
            _keep(result, arrays, np, init, final, names)
    if not rec.models and rec.loop_vars is not None:
        final = rec.guard("final weights", lambda: [np.array(v) for v in rec.loop_vars]) or []
        names = [str(getattr(v, "path", None) or getattr(v, "name", "w%d" % i))
                 for i, v in enumerate(rec.loop_vars)]
        _keep(result, arrays, np, rec.loop_init, final, names)
        info["custom_loop"] = {"steps_seen": rec.loop_steps, "in_tf_function": rec.loop_traced}
        if rec.loop_traced and not result["loss"]:
            rec.warn("custom loop", RuntimeError(
                "the training step runs in a tf.function: its per-step loss is not visible; "
                "record it with `from tfrepro import log; log('loss', value, step)`"))
    if tf1 is not None:
        init, final, names, _, data, info["tf1_train_op"] = tf1
        _keep(result, arrays, np, init, final, names)
        if data:
            rec.data.append({"fit": None, "sha256": data, "what": "arrays fed to the train op"})
    elif not rec.models and rec.loop_vars is None:
        rec.warn("training", RuntimeError(
            "no fit, train_on_batch or apply_gradients was seen: no weights were recorded"))
    info["models"] = models
    info["data"] = rec.data
    if not rec.data and rec.sources:  # a custom loop over tf.data: the arrays it was built from
        rec.data.append({"fit": None, "sha256": arrays_sha256(enumerate(rec.sources)),
                         "what": "arrays given to tf.data sources"})
    result["data_sha256"] = next((d["sha256"] for d in rec.data if d["sha256"]), None)
    if rec.metrics is not None:
        result["metrics"], info["metrics_from"] = rec.metrics, "evaluate"
    elif rec.epochs:
        result["metrics"], info["metrics_from"] = rec.epochs[-1], "last epoch logs"
    else:
        result["metrics"], info["metrics_from"] = {}, None
    result["epoch_metrics"] = rec.epochs
    result["logs"] = rec.logged
    if rec.eval is not None:
        model, x, y = rec.eval

        def predict():
            rec.keras_depth += 1  # Keras' own calls, not the script's
            try:
                arrays["predictions"] = np.asarray(model.predict(x, verbose=0))
            finally:
                rec.keras_depth -= 1
            if y is not None:
                labels = np.asarray(y)
                if labels.ndim == 2:  # one-hot → class indices, as compare's churn counts them
                    labels = labels.argmax(axis=1) if labels.shape[1] > 1 else labels[:, 0]
                arrays["labels"] = labels
        rec.guard("predictions", predict)
    info["seed_calls"] = rec.seed_calls
    if rec.seed_calls:
        info["seeds_itself"] = True
    info["warnings"] = rec.warnings
    if rec.models or rec.loop_vars is not None or tf1 is not None:
        opt = getattr(rec.models[0], "optimizer", None) if rec.models else None
        if opt is not None:
            result["optimizer_class"] = "%s.%s" % (type(opt).__module__, type(opt).__name__)


def _summaries(rec):
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
                    if v.HasField("simple_value"):
                        value = float(v.simple_value)
                    elif v.HasField("tensor"):
                        arr = tf.make_ndarray(v.tensor)
                        if arr.size != 1 or arr.dtype.kind not in "fiu":
                            continue
                        value = float(arr.reshape(()))
                    else:
                        continue
                    out.setdefault(prefix + v.tag, []).append([int(event.step), value])
    return out


def _keep(result, arrays, np, init, final, names):
    if init:
        result["init_weights_sha256"] = weights_sha256(init)
        for i, w in enumerate(init):
            arrays["init_%d" % i] = w
    if final:
        result["final_weights_sha256"] = weights_sha256(final)
        for i, w in enumerate(final):
            arrays["final_%d" % i] = w
        arrays["weight_names"] = np.array(names)
