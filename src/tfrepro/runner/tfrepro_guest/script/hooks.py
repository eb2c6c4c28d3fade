"""The hooks a script cell installs before the script's first line.

Keras' `fit`, `evaluate`, `train_on_batch`, `compile` (XLA knob only), optimizers'
`apply_gradients`, `GradientTape.gradient`, `tf.data.Dataset.from_tensor_slices/from_tensors`
(and, in seeds.py and tf1.py, the seed functions and TF 1's Session.run). Under `tfrepro
explain` the first `fit` (or eager apply_gradients) runs the probe instead and ends the script.

Every hook calls the original exactly once with the user's arguments; what tfrepro's own code
around it raises becomes a warning (Recorder.guard). An exception from the original propagates
unchanged. `rec.keras_depth` tells the script's own calls from Keras' inner ones.
"""

import contextlib
import functools
import importlib
import traceback

from ..protocol import Result
from . import seeds, tf1


def patch(owner, name, make):
    """owner.name = make(original), wrapped to look like it, once (a patched one is kept)."""
    original = getattr(owner, name, None)
    if original is None or getattr(original, "_tfrepro", False):
        return
    wrapper = functools.wraps(original)(make(original))
    wrapper._tfrepro = True
    setattr(owner, name, wrapper)


def keras_modules(compat):
    """Every Keras this environment has that a script may train with (keras, tf_keras,
    tf.keras), each once."""
    found = []
    names = ["keras"] if compat.keras3 or not compat.tf1 else []
    if compat.keras.__name__ not in names:
        names.append(compat.keras.__name__)
    for name in names:
        try:
            found.append(importlib.import_module(name))
        except Exception:  # absent in this environment
            continue
    with contextlib.suppress(Exception):  # a TF without tf.keras: not watched
        found.append(compat.tf.keras)
    return found


def install(rec, compile_kwargs, legacy=None):
    """Every hook, each set of them on its own: one that cannot be installed is a warning.
    legacy (optimizer_impl = legacy; a list): the script's Keras optimizers become the legacy
    classes of the same name, and `legacy` receives what was swapped ("module.Class")."""
    seen = set()
    for keras in keras_modules(rec.compat):
        rec.guard(
            "Keras hooks (%s)" % keras.__name__, _install_keras, rec, keras, compile_kwargs, seen
        )
        if legacy is not None:
            legacy.extend(rec.guard("legacy optimizers", _legacy_optimizers, keras) or [])
    rec.guard("GradientTape hook", patch, rec.tf.GradientTape, "gradient", _gradient_hook(rec))
    rec.guard("tf.data hook", _install_sources, rec)
    if rec.compat.tf1:
        rec.guard("TF1 hooks", tf1.install, rec, patch)  # else its Session runs unwatched
    rec.guard("seed hooks", seeds.install, rec, patch, keras_modules(rec.compat))


def _install_keras(rec, keras, compile_kwargs, seen):
    model_cls = getattr(keras, "Model", None)
    if model_cls is None or id(model_cls) in seen:
        return
    seen.add(id(model_cls))
    patch(model_cls, "fit", _fit_hook(rec, _callback_class(rec, keras.callbacks.Callback)))
    patch(model_cls, "evaluate", _evaluate_hook(rec))
    patch(model_cls, "train_on_batch", _train_on_batch_hook(rec))
    legacy = rec.legacy_optimizers and getattr(keras.optimizers, "legacy", None) is not None
    if compile_kwargs or legacy:
        patch(model_cls, "compile", _compile_hook(compile_kwargs, keras if legacy else None))
    opts = keras.optimizers
    for owner in (
        getattr(opts, "Optimizer", None),
        getattr(getattr(opts, "legacy", None), "Optimizer", None),
    ):
        if owner is not None and id(owner) not in seen:
            seen.add(id(owner))
            patch(owner, "apply_gradients", _apply_hook(rec))


def _callback_class(rec, base):
    class TfreproRecorder(base):
        """Added to every fit: reads the logs Keras gives callbacks, changes nothing."""

        def on_train_batch_end(self, batch, logs=None):
            rec.guard("loss capture", rec.batch_end, logs)

        def on_epoch_end(self, epoch, logs=None):
            rec.guard("epoch logs", rec.epoch_end, logs)

    return TfreproRecorder


def _fit_hook(rec, callback_cls):
    def make(orig):
        def fit(self, *args, **kwargs):
            if rec.keras_depth == 0:
                rec.fits += 1
                if rec.probe is not None and rec.fits - 1 == rec.probe_fit:
                    rec.keras_depth += 1  # the probe's own Keras calls are not the script's
                    rec.probed_model = str(getattr(self, "name", "?"))
                    _probe(rec, "fit", self, args, kwargs)
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


def _evaluate_hook(rec):
    def make(orig):
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

    return make


def _train_on_batch_hook(rec):
    def make(orig):
        def train_on_batch(self, *args, **kwargs):
            outer = rec.keras_depth == 0
            if outer and rec.probe is not None and not rec.probe_fit:
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

    return make


def _compile_hook(compile_kwargs, legacy_keras_module=None):
    """compile with the cell's XLA knob; with a Keras module (optimizer_impl = legacy), an
    optimizer given by name or config is that Keras' legacy optimizer."""

    def make(orig):
        def compile(self, *args, **kwargs):
            kwargs.update(compile_kwargs)  # the cell's XLA knob wins over the script's
            if legacy_keras_module is not None:
                args, kwargs = _legacy_by_name(legacy_keras_module, args, kwargs)
            return orig(self, *args, **kwargs)

        return compile

    return make


def _legacy_optimizers(keras):
    """keras.optimizers.X -> keras.optimizers.legacy.X for every class the legacy module has
    (TF 2.11 .. 2.15, whose Keras has both). Returns the names swapped."""
    opts = keras.optimizers
    legacy = getattr(opts, "legacy", None)
    if legacy is None:
        return []
    swapped = []
    for name in sorted(dir(legacy)):
        cls = getattr(legacy, name)
        if name == "Optimizer" or not isinstance(cls, type):
            continue
        if getattr(opts, name, None) is not cls:
            setattr(opts, name, cls)
            swapped.append("%s.%s" % (opts.__name__, name))
    return swapped


def _legacy_by_name(keras, args, kwargs):
    """compile's optimizer, when a name ("adam") or a config, as the legacy class."""
    given = args[0] if args else kwargs.get("optimizer")
    if not isinstance(given, (str, dict)):
        return args, kwargs
    opt = keras.optimizers.get(given, use_legacy_optimizer=True)
    if args:
        return (opt, *tuple(args[1:])), kwargs
    return args, dict(kwargs, optimizer=opt)


def _apply_hook(rec):
    def make(orig):
        def apply_gradients(self, grads_and_vars, *args, **kwargs):
            if rec.keras_depth == 0 and rec.probe is not None and not rec.probe_fit:
                grads_and_vars = list(grads_and_vars)
                rec.keras_depth += 1
                _probe(rec, "apply_gradients", self, grads_and_vars)
            if rec.keras_depth == 0:
                grads_and_vars = list(grads_and_vars)  # a zip can be read once: keep it whole
                rec.guard("apply_gradients hook", rec.apply, grads_and_vars)
            return orig(self, grads_and_vars, *args, **kwargs)

        return apply_gradients

    return make


def _gradient_hook(rec):
    def make(orig):
        def gradient(self, target, *args, **kwargs):
            if rec.keras_depth == 0:
                rec.guard("GradientTape hook", rec.tape_target, target)
            return orig(self, target, *args, **kwargs)

        return gradient

    return make


def _install_sources(rec):
    """from_tensor_slices / from_tensors remember the arrays a pipeline is built from."""
    tf, np = rec.tf, rec.np

    def make(orig):
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
            setattr(tf.data.Dataset, name, make(original.__func__))


def _probe(rec, where, *args):
    """explain: the probe at the script's first `where` ("fit" | "apply_gradients")."""
    from ..probe import script as probe

    rec.probe_at = where
    run = probe.at_first_fit if where == "fit" else probe.at_first_apply
    try:
        run(rec, *args, spec=rec.probe, result=rec.result, arrays=rec.arrays)
    except Exception as exc:  # the probe's failure, named as such
        rec.result[Result.TRACEBACK] = traceback.format_exc()
        raise probe.ProbeFailed(
            "the probe in the script failed: %s: %s" % (type(exc).__name__, exc)
        ) from exc


def _not_probed(call):
    from ..probe import script as probe

    raise probe.ProbeFailed(
        "explain on a script starts at its first Keras fit or eager apply_gradients; this "
        "script trains with %s first, which is not probed yet: compare its cells with "
        "`tfrepro compare` instead" % call
    )
