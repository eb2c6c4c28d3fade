"""A model cell: set up (knobs, import, seeds, data, model) and train with tfrepro's own loop."""

import importlib.util
import time

from .. import boot
from ..platform.compat import variable_names
from ..platform.hashing import data_sha256, weights_sha256
from ..protocol import Array, Event, Job, ModelSpec, Result, indexed
from . import models
from . import train as loops
from .context import Context


class Setup(object):
    """What a model cell has before training: np, compat, ctx, model, user (module), data."""

    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)


def setup(job, events, result, arrays):
    """Knobs, import, seeds, data, model: everything before training."""
    np, compat, compile_kwargs = boot.prepare(job, events, result)
    with np.load(job[Job.DATA_PATH], allow_pickle=False) as npz:
        data = {k: np.asarray(npz[k]) for k in npz.files}
    order = None
    if job.get(Job.ORDER_PATH):
        with np.load(job[Job.ORDER_PATH], allow_pickle=False) as npz:
            order = np.asarray(npz["order"])
    result[Result.DATA_SHA256] = data_sha256(data)
    ctx = Context(compat, job, data, order, events, compile_kwargs)

    t0 = time.time()
    spec = job[Job.MODEL]
    user = None
    if spec[ModelSpec.KIND] == ModelSpec.BUILTIN:
        model = models.build_builtin(spec[ModelSpec.NAME], ctx)
    else:
        user = _load_user_module(spec[ModelSpec.PATH])
        model = user.build_model(ctx)
        if model is None or not hasattr(model, "get_weights"):
            raise TypeError("build_model(ctx) must return a Keras model, got %r" % (model,))
        if getattr(model, "optimizer", None) is None:
            ctx.compile(model)
    result[Result.TIMINGS]["build"] = round(time.time() - t0, 4)
    # the data as training will see it: model code that edits ctx.data (a setup bug when it
    # depends on the environment) shows here, while data_sha256 stays what the host sent
    result[Result.DATA_SHA256_USED] = data_sha256(ctx.data)
    init = _weights(model)
    arrays[Array.WEIGHT_NAMES] = np.array(variable_names(model.weights))
    for i, w in enumerate(init):
        arrays[indexed(Array.INIT, i)] = w
    result[Result.INIT_WEIGHTS_SHA256] = weights_sha256(init)
    result[Result.OPTIMIZER_CLASS] = "%s.%s" % (
        type(model.optimizer).__module__,
        type(model.optimizer).__name__,
    )
    events.emit(Event.BUILT, seconds=result[Result.TIMINGS]["build"], n_weights=len(init))
    return Setup(np=np, compat=compat, ctx=ctx, model=model, user=user, data=data)


def train(s, events, result, arrays):
    """Train (the user's fit(ctx, model), else tfrepro's loop), then evaluate and predict."""
    np, compat, ctx, model, data = s.np, s.compat, s.ctx, s.model, s.data
    t0 = time.time()
    result[Result.EPOCH_METRICS] = []
    try:
        if s.user is not None and hasattr(s.user, "fit"):
            s.user.fit(ctx, model)
        else:
            step, result[Result.OPTIMIZER_CLASS] = loops.make_step(ctx, model, compat)
            for epoch in loops.epochs(ctx, step):
                metrics = compat.evaluate(model, data["x_test"], data["y_test"], ctx.batch_size)
                result[Result.EPOCH_METRICS].append(metrics)
                events.emit(Event.EPOCH, epoch=epoch, metrics=metrics)
    finally:
        result[Result.TIMINGS]["fit"] = round(time.time() - t0, 4)
        result[Result.LOSS] = list(ctx.losses)
        result[Result.LOGS] = ctx.logged
        final = _weights(model)
        for i, w in enumerate(final):
            arrays[indexed(Array.FINAL, i)] = w
        result[Result.FINAL_WEIGHTS_SHA256] = weights_sha256(final)

    t0 = time.time()
    result[Result.METRICS] = compat.evaluate(model, data["x_test"], data["y_test"], ctx.batch_size)
    arrays[Array.PREDICTIONS] = np.asarray(
        model.predict(data["x_test"], batch_size=ctx.batch_size, verbose=0)
    )
    result[Result.TIMINGS]["evaluate"] = round(time.time() - t0, 4)


def _load_user_module(path):
    spec = importlib.util.spec_from_file_location("tfrepro_user_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _weights(model):
    return [w.copy() for w in model.get_weights()]
