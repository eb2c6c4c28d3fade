"""Run one cell: read the job, set knobs, import TensorFlow, build, train, record.

Outputs in job["out_dir"]: events.jsonl (streamed), arrays.npz (weights, predictions) and
result.json (written last, atomically). Any exception becomes status "failed" with its
traceback; NaN/inf loss becomes "diverged". A hard crash (signal) leaves no result.json,
and the host records it from the exit status and stderr.
"""

import importlib.util
import json
import os
import resource
import time
import traceback

from . import compat as compat_mod
from .context import Context, Diverged
from .events import EventLog
from .hashing import data_sha256, weights_sha256


def _atomic_write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _load_user_module(path):
    spec = importlib.util.spec_from_file_location("tfrepro_user_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _weights(model):
    return [w.copy() for w in model.get_weights()]


def _weight_names(model):
    names = []
    for i, v in enumerate(model.weights):
        name = getattr(v, "path", None) or getattr(v, "name", None) or "w%d" % i
        names.append(str(name))
    return names


def prepare(job, events, result, seed=True):
    """Knobs, the TensorFlow import, threads, determinism, XLA, seeds, the fingerprint: what
    every cell does before its model (or script) runs. Returns (np, compat, compile kwargs).
    seed=False (a script with seeding = "script"): no seed is set, the script's own rule."""
    result["knobs_applied"] = compat_mod.pre_import(job["tf_version"], job["knobs"])
    t0 = time.time()
    import numpy as np
    import tensorflow as tf

    result["timings"]["import"] = round(time.time() - t0, 4)
    events.emit("imported", seconds=result["timings"]["import"])

    # a script runs as it would bare: on 1.x in graph mode unless it enables eager itself
    compat = compat_mod.Compat(tf, job["knobs"], eager=job.get("mode") != "script")
    knobs = job["knobs"]
    compile_kwargs, applied = apply_knobs(compat, knobs, int(job["seed"]) if seed else None)
    result["knobs_applied"].update(applied)
    if knobs.get("device") == "gpu" and not any(d.startswith("GPU") for d in
                                                  _gpu_devices(tf)):
        raise RuntimeError("device=gpu but TensorFlow sees no GPU in this environment")

    from . import fingerprint

    result["fingerprint"] = fingerprint.collect(compat, np)
    result["keras_version"] = compat.keras_version
    return np, compat, compile_kwargs


def apply_knobs(compat, knobs, seed):
    """The knobs set after the import (threads, determinism, XLA) and the seeds (seed=None: a
    script that seeds itself). Returns (compile kwargs, {knob: how it was applied})."""
    applied = {"threads": compat.set_threads(int(knobs.get("threads", 1)))}
    if knobs.get("determinism", True):
        compat.enable_determinism()
    compile_kwargs, applied["xla"] = compat.set_xla(knobs.get("xla", "default"))
    if seed is not None:
        applied["seeding"] = compat.seed_everything(seed)
    else:
        applied["seeding"] = ["none: the script seeds itself (seeding = script)"]
    return compile_kwargs, applied


def setup(job, events, result, arrays):
    """Knobs, import, seeds, data, model: everything before training. Returns a namespace."""
    np, compat, compile_kwargs = prepare(job, events, result)
    with np.load(job["data_path"], allow_pickle=False) as npz:
        data = {k: np.asarray(npz[k]) for k in npz.files}
    order = None
    if job.get("order_path"):
        with np.load(job["order_path"], allow_pickle=False) as npz:
            order = np.asarray(npz["order"])
    result["data_sha256"] = data_sha256(data)
    ctx = Context(compat, job, data, order, events, compile_kwargs)

    from . import models

    t0 = time.time()
    spec = job["model"]
    user = None
    if spec["kind"] == "builtin":
        model = models.build_builtin(spec["name"], ctx)
    else:
        user = _load_user_module(spec["path"])
        model = user.build_model(ctx)
        if model is None or not hasattr(model, "get_weights"):
            raise TypeError("build_model(ctx) must return a Keras model, got %r" % (model,))
        if getattr(model, "optimizer", None) is None:
            ctx.compile(model)
    result["timings"]["build"] = round(time.time() - t0, 4)
    # the data as training will see it: model code that edits ctx.data (a setup bug when it
    # depends on the environment) shows here, while data_sha256 stays what the host sent
    result["data_sha256_used"] = data_sha256(ctx.data)
    init = _weights(model)
    arrays["weight_names"] = np.array(_weight_names(model))
    for i, w in enumerate(init):
        arrays["init_%d" % i] = w
    result["init_weights_sha256"] = weights_sha256(init)
    result["optimizer_class"] = "%s.%s" % (type(model.optimizer).__module__,
                                           type(model.optimizer).__name__)
    events.emit("built", seconds=result["timings"]["build"], n_weights=len(init))
    return Setup(np=np, compat=compat, ctx=ctx, model=model, user=user, data=data)


class Setup(object):
    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)


def train_cell(s, events, result, arrays):
    from . import train

    np, compat, ctx, model, data = s.np, s.compat, s.ctx, s.model, s.data
    t0 = time.time()
    result["epoch_metrics"] = []
    try:
        if s.user is not None and hasattr(s.user, "fit"):
            s.user.fit(ctx, model)
        else:
            step, result["optimizer_class"] = train.make_step(ctx, model, compat)
            for epoch in train.epochs(ctx, step):
                metrics = compat.evaluate(model, data["x_test"], data["y_test"], ctx.batch_size)
                result["epoch_metrics"].append(metrics)
                events.emit("epoch", epoch=epoch, metrics=metrics)
    finally:
        result["timings"]["fit"] = round(time.time() - t0, 4)
        result["loss"] = list(ctx.losses)
        result["logs"] = ctx.logged
        final = _weights(model)
        for i, w in enumerate(final):
            arrays["final_%d" % i] = w
        result["final_weights_sha256"] = weights_sha256(final)

    t0 = time.time()
    result["metrics"] = compat.evaluate(model, data["x_test"], data["y_test"], ctx.batch_size)
    arrays["predictions"] = np.asarray(model.predict(data["x_test"], batch_size=ctx.batch_size,
                                                     verbose=0))
    result["timings"]["evaluate"] = round(time.time() - t0, 4)


def run(job, events, result, arrays):
    t_start = time.time()
    if job.get("mode") == "script":
        from . import script

        script.run(job, events, result, arrays, prepare)
        result["timings"]["total"] = round(time.time() - t_start, 4)
        return
    s = setup(job, events, result, arrays)
    if job.get("mode", "train") == "probe":
        from . import probe

        probe.probe(job["probe"], s, result, arrays)
    else:
        train_cell(s, events, result, arrays)
    result["timings"]["total"] = round(time.time() - t_start, 4)
    result["status"] = "ok"


def _gpu_devices(tf):
    lister = getattr(tf.config, "list_physical_devices", None) or \
        tf.config.experimental.list_physical_devices
    return ["%s:%s" % (d.device_type, d.name) for d in lister()]


def main(argv):
    if len(argv) == 2 and argv[0] == "--serve":
        from . import worker

        return worker.serve(argv[1])
    if len(argv) != 1:
        print("usage: python runner JOB.json | python runner --serve BOOT.json")
        return 2
    run_job(argv[0], {"mode": "fresh"})
    return 0


def run_job(job_path, worker):
    """One cell from its job file to its result.json (worker: how this process runs cells, for
    the record). Never raises for a failing cell."""
    with open(job_path) as f:
        job = json.load(f)
    out = job["out_dir"]
    events = EventLog(os.path.join(out, "events.jsonl"))
    events.emit("start", cell=job.get("cell_id"), pid=os.getpid())
    result = {"status": "failed", "reason": "", "timings": {}, "worker": worker}
    arrays = {}
    try:
        run(job, events, result, arrays)
    except Diverged as exc:
        result["status"] = "diverged"
        result["reason"] = str(exc)
    except BaseException as exc:  # noqa: BLE001 - every failure is data for the host
        result["status"] = "failed"
        result["reason"] = "%s: %s" % (type(exc).__name__, exc)
        result["traceback"] = traceback.format_exc()
    result["peak_memory_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
    if arrays:
        import numpy as np

        tmp = os.path.join(out, "arrays.tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, os.path.join(out, "arrays.npz"))
    events.emit("done", status=result["status"])
    events.close()
    _atomic_write(os.path.join(out, "result.json"), json.dumps(result))
