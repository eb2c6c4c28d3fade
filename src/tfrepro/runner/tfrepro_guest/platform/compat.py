"""Differences between TensorFlow 1.15 … 2.x, Keras 2 and Keras 3, decided once.

`Compat` is built right after TensorFlow is imported; everything release-dependent is a
capability flag or a method here, so the rest of the guest code has no version checks.
"""

import importlib
import os

from .capabilities import has, parse_version


def pre_import(tf_version, knobs):
    """Environment variables that must be set before TensorFlow is imported.

    Returns {knob: how it was applied} for the record.
    """
    applied = {}
    onednn = knobs.get("onednn", "default")
    if onednn == "default":
        os.environ.pop("TF_ENABLE_ONEDNN_OPTS", None)
        applied["onednn"] = "release default"
    else:
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1" if onednn == "on" else "0"
        applied["onednn"] = "TF_ENABLE_ONEDNN_OPTS=" + os.environ["TF_ENABLE_ONEDNN_OPTS"]
    if knobs.get("determinism", True):
        if has(tf_version, "op_determinism"):
            applied["determinism"] = "enable_op_determinism"
        elif has(tf_version, "deterministic_ops_env"):
            os.environ["TF_DETERMINISTIC_OPS"] = "1"
            applied["determinism"] = "TF_DETERMINISTIC_OPS=1"
        else:
            os.environ["TF_CUDNN_DETERMINISTIC"] = "1"
            applied["determinism"] = "TF_CUDNN_DETERMINISTIC=1"
    else:
        applied["determinism"] = "off"
    if knobs.get("legacy_keras"):
        if has(tf_version, "keras3"):
            os.environ["TF_USE_LEGACY_KERAS"] = "1"
            applied["legacy_keras"] = "TF_USE_LEGACY_KERAS=1 (tf_keras)"
        else:
            applied["legacy_keras"] = "not applicable: tf.keras is Keras 2 before TF 2.16"
    if knobs.get("device", "cpu") == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    return applied


_OPTIMIZERS = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop", "adagrad": "Adagrad"}
_TF1_OPTIMIZERS = {
    "adam": "AdamOptimizer",
    "sgd": "GradientDescentOptimizer",
    "rmsprop": "RMSPropOptimizer",
    "adagrad": "AdagradOptimizer",
}


class Compat(object):
    def __init__(self, tf, knobs, eager=True):
        """eager=False (a user's script on 1.x): TensorFlow 1's own default, graph mode."""
        self.tf = tf
        self.knobs = knobs
        self.version = parse_version(tf.__version__)
        self.tf1 = not has(self.version, "tf2")
        if self.tf1 and eager and not tf.executing_eagerly():
            tf.compat.v1.enable_eager_execution()
        if has(self.version, "keras3"):
            if knobs.get("legacy_keras"):
                self.keras = importlib.import_module("tf_keras")
            else:
                self.keras = importlib.import_module("keras")
        else:
            self.keras = tf.keras
        self.keras_version = _keras_version(self.keras)
        self.keras3 = parse_version(self.keras_version) >= (3, 0, 0)
        self.has_op_determinism = hasattr(
            getattr(tf.config, "experimental", None), "enable_op_determinism"
        )
        self.has_jit_compile_arg = self.keras3 or has(self.version, "jit_compile_arg")
        self.has_return_dict = self.keras3 or has(self.version, "evaluate_return_dict")
        self.has_legacy_optimizers = (not self.keras3) and hasattr(self.keras.optimizers, "legacy")

    # --- knobs applied after import -------------------------------------------------------
    def set_threads(self, n):
        if n <= 0:
            return "tensorflow default"
        self.tf.config.threading.set_intra_op_parallelism_threads(n)
        self.tf.config.threading.set_inter_op_parallelism_threads(n)
        return "intra=%d inter=%d" % (n, n)

    def enable_determinism(self):
        if self.has_op_determinism:
            self.tf.config.experimental.enable_op_determinism()

    def set_xla(self, mode):
        """Returns (compile kwargs, description)."""
        if mode == "default":
            return {}, "release default"
        on = mode == "on"
        if self.has_jit_compile_arg:
            return {"jit_compile": on}, "compile(jit_compile=%s)" % on
        if not self.tf1:
            self.tf.config.optimizer.set_jit(on)
            return {}, "tf.config.optimizer.set_jit(%s)" % on
        if on:
            raise NotImplementedError("XLA knob is not supported on TensorFlow 1.x eager")
        return {}, "off (TF 1.x eager does not use XLA)"

    def seed_everything(self, seed):
        import random

        import numpy as np

        random.seed(seed)
        np.random.seed(seed)
        used = ["random.seed", "numpy.random.seed"]
        if self.tf1:
            self.tf.compat.v1.set_random_seed(seed)
            used.append("tf.compat.v1.set_random_seed")
        else:
            self.tf.random.set_seed(seed)
            used.append("tf.random.set_seed")
        utils = getattr(self.keras, "utils", None)
        if utils is not None and hasattr(utils, "set_random_seed"):
            utils.set_random_seed(seed)
            used.append("keras.utils.set_random_seed")
        return used

    # --- optimizers ---------------------------------------------------------------------------
    def keras_optimizer(self, name, learning_rate, impl):
        cls_name = _OPTIMIZERS[name]
        if impl == "legacy":
            if self.keras3:
                raise NotImplementedError(
                    "legacy Keras optimizers do not exist in Keras %s; combine "
                    "optimizer_impl='legacy' with legacy_keras=true" % self.keras_version
                )
            module = (
                self.keras.optimizers.legacy
                if self.has_legacy_optimizers
                else self.keras.optimizers
            )  # before 2.9 the Keras optimizers *are* the legacy ones
        else:
            module = self.keras.optimizers
        return getattr(module, cls_name)(learning_rate=learning_rate)

    def tf1_optimizer(self, name, learning_rate):
        return getattr(self.tf.compat.v1.train, _TF1_OPTIMIZERS[name])(learning_rate)

    def tf_variables(self, variables):
        """The tf.Variables behind Keras variables (Keras 3 wraps them)."""
        if self.keras3:
            return [v.value if hasattr(v, "value") else v for v in variables]
        return list(variables)

    # --- evaluation ----------------------------------------------------------------------------
    def evaluate(self, model, x, y, batch_size):
        if self.has_return_dict:
            out = model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True)
        else:
            values = model.evaluate(x, y, batch_size=batch_size, verbose=0)
            if not isinstance(values, (list, tuple)):
                values = [values]
            out = dict(zip(model.metrics_names, values))
        return {_metric_name(k): float(v) for k, v in out.items()}


def variable_names(variables):
    """Names of variables as this Keras spells them (Keras 3: the path, "dense/kernel"; Keras 2
    and TF 1: the name, "dense/kernel:0"), "w<i>" where a variable has neither."""
    names = []
    for i, v in enumerate(variables):
        name = getattr(v, "path", None) or getattr(v, "name", None) or "w%d" % i
        names.append(str(name))
    return names


def _keras_version(keras):
    version = getattr(keras, "__version__", None)
    if version is None:
        # TF 2.6 … 2.15: tf.keras is a lazy alias of the separate `keras` package
        try:
            version = importlib.import_module("keras").__version__
        except Exception:  # no separate keras package
            version = "unknown"
    return str(version)


def _metric_name(name):
    return {"acc": "accuracy"}.get(name, name)
