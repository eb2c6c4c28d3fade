"""`ctx`: what the user's build_model(ctx) / fit(ctx, model) receive."""

import math

import numpy as np

from ..protocol import Job, ModelSpec


class Diverged(Exception):
    """The loss became NaN or infinite."""


class Context(object):
    """The user-facing API (documented in the README):

    tf, keras, seed, data (dict of numpy arrays), params, tf_version (tuple),
    keras_version (str), task, n_classes, input_shape, epochs, batch_size, knobs,
    log(name, value, step), batches(epoch), optimizer(), compile(model), compile_kwargs.
    """

    def __init__(self, compat, job, data, order, events, compile_kwargs):
        self.tf = compat.tf
        self.keras = compat.keras
        self.tf_version = compat.version
        self.keras_version = compat.keras_version
        self.seed = int(job[Job.SEED])
        self.params = dict(job.get(Job.PARAMS) or {})
        self.knobs = dict(job[Job.KNOBS])
        self.data = data
        self.task = job[Job.TASK]
        self.n_classes = int(job.get(Job.N_CLASSES) or 0)
        self.input_shape = tuple(int(d) for d in data["x_train"].shape[1:])
        train = job[Job.TRAIN]
        self.epochs = int(train["epochs"])
        self.batch_size = int(train["batch_size"])
        self.hidden = int(job[Job.MODEL].get(ModelSpec.HIDDEN, 64))
        self.optimizer_name = str(train["optimizer"])
        self.learning_rate = float(train["learning_rate"])
        self.compile_kwargs = dict(compile_kwargs)
        self._compat = compat
        self._order = order
        self._events = events
        self.losses = []  # per-step training loss, in step order
        self.logged = {}  # every other name given to log(): [[step, value], ...]

    # --- logging ---------------------------------------------------------------------------
    def log(self, name, value, step=None):
        value = float(value)
        if name == "loss":
            self.losses.append(value)
        else:
            self.logged.setdefault(str(name), []).append([step, value])
        self._events.emit("log", name=str(name), value=value, step=step)
        if name == "loss" and not math.isfinite(value):
            raise Diverged("loss is %r at step %s" % (value, step))

    # --- data ------------------------------------------------------------------------------
    def epoch_order(self, epoch):
        if self._order is not None:
            return self._order[epoch]
        # data.shuffle = "framework": TensorFlow's own seeded shuffle decides the order
        n = self.data["x_train"].shape[0]
        return self.tf.random.shuffle(self.tf.range(n)).numpy()

    def batches(self, epoch):
        """(x, y) batches of one epoch, in the host-computed order."""
        order = self.epoch_order(epoch)
        x, y = self.data["x_train"], self.data["y_train"]
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            yield x[idx], y[idx]

    # --- model helpers -----------------------------------------------------------------------
    def loss_name(self):
        return "sparse_categorical_crossentropy" if self.task == "classification" else "mse"

    def metric_names(self):
        return ["accuracy"] if self.task == "classification" else ["mae"]

    def optimizer(self):
        impl = self.knobs.get("optimizer_impl", "keras")
        if impl == "tf1":
            impl = "keras"  # the model is compiled with Keras; the TF1 optimizer trains it
        return self._compat.keras_optimizer(self.optimizer_name, self.learning_rate, impl)

    def compile(self, model, **overrides):
        kwargs = {
            "optimizer": self.optimizer(),
            "loss": self.loss_name(),
            "metrics": self.metric_names(),
        }
        kwargs.update(self.compile_kwargs)
        kwargs.update(overrides)
        model.compile(**kwargs)
        return model


def as_float(value):
    if isinstance(value, (list, tuple)):
        value = value[0]
    return float(np.asarray(value))
