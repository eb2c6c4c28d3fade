"""The facts a script cell gathers while the script runs, kept by one Recorder.

The hooks (hooks.py, seeds.py, tf1.py) call it; finish.py turns what it holds into the cell's
result after the script's last line. Nothing here may break the script: `guard` turns
tfrepro's own exceptions into warnings (`warn`), recorded with the cell.
"""

import time

from ..platform.hashing import arrays_sha256, weights_sha256
from ..protocol import Event, Job, ProbeSpec, ScriptSpec


class Recorder(object):
    def __init__(self, np, compat, job, events, result, arrays, cwd):
        self.np, self.compat, self.tf = np, compat, compat.tf
        self.events = events
        self.result, self.arrays = result, arrays  # the cell's (explain's probe writes them)
        self.cwd = cwd  # the folder the script runs in
        self.started = time.time() - 1  # files it wrote have an mtime after this (whole seconds)
        self.seed = int(job[Job.SEED])
        self.seeding = job[Job.SCRIPT].get(ScriptSpec.SEEDING, "cell")
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
        self.tf1_ops = []  # TF 1 train ops the script built (tf1.py), in order
        self.probe = job.get(Job.PROBE)  # explain: the probe's spec (probe/script.py), else None
        # the script's fit call to probe at (0: the first); later targets let earlier fits run
        self.probe_fit = int(self.probe.get(ProbeSpec.FIT) or 0) if self.probe else None
        self.probe_at = None  # where the probe ran: "fit" | "apply_gradients"
        self.fits = 0  # the script's own fit calls so far
        # optimizer_impl = legacy: the script's Keras optimizers are the legacy classes
        self.legacy_optimizers = job[Job.KNOBS].get("optimizer_impl", "keras") == "legacy"
        self.probed_model = None  # the name of the model the probe ran on (a fit's)

    # --- never break the script ------------------------------------------------------------
    def warn(self, where, exc):
        msg = "%s: %s: %s" % (where, type(exc).__name__, exc)
        if msg not in self.warnings:
            self.warnings.append(msg)
            self.events.emit(Event.HOOK_WARNING, message=msg)

    def guard(self, where, fn, *args):
        """fn(*args), or None and a warning when it raises: tfrepro's failure, not the script's."""
        try:
            return fn(*args)
        except Exception as exc:
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
                    [None if step is None else int(step), value]
                )
            self.events.emit(Event.LOG, name="script:" + str(name), value=value, step=step)
        except Exception as exc:  # a value that is no number: a warning, the script goes on
            self.warn("log(%r)" % (name,), exc)

    def step_loss(self, value):
        step = len(self.fit_losses)
        self.fit_losses.append(value)
        self.events.emit(Event.LOG, name="loss", value=value, step=step)

    # --- fit / evaluate ------------------------------------------------------------------------
    def first_sight(self, model):
        if any(m is model for m in self.models):
            return
        self.models.append(model)
        try:
            w = self.weights(model)
        except Exception:  # Keras 2 before the model is built: "weights ... not yet created"
            w = []
        if not w:
            self.warn(
                "initial weights",
                RuntimeError(
                    "model %r has no weights before its first fit (it is built inside fit): "
                    "its initial weights are not recorded" % getattr(model, "name", "?")
                ),
            )
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
                parts.extend(
                    ("%s.%s" % (name, k), self.np.asarray(value[k])) for k in sorted(value)
                )
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
        model_index = next(i for i, m in enumerate(self.models) if m is model)
        self.data.append({"fit": len(self.data), "sha256": sha, "what": what, "model": model_index})
        cb = callback_cls()
        if len(args) > 5:
            args = (*args[:5], [*list(args[5] or []), cb], *args[6:])
        else:
            kwargs = dict(kwargs)
            kwargs["callbacks"] = [*list(kwargs.get("callbacks") or []), cb]
        return args, kwargs

    def batch_end(self, logs):
        if logs and "loss" in logs:
            self.step_loss(self.scalar(logs["loss"]))

    def epoch_end(self, logs):
        entry = {}
        for k, v in (logs or {}).items():
            try:
                entry[str(k)] = self.scalar(v)
            except Exception:  # a non-scalar log entry
                continue
        self.epochs.append(entry)
        self.events.emit(Event.EPOCH, epoch=len(self.epochs) - 1, metrics=entry)

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
        self.metrics = {
            {"acc": "accuracy"}.get(k, str(k)): self.scalar(v) for k, v in metrics.items()
        }
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
