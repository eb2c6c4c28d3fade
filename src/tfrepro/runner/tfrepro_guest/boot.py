"""Prepare a process for a cell: the knobs that must be set before TensorFlow is imported,
the import, the knobs and seeds set after it, the fingerprint. Model cells, scripts and warm
workers all start here, so a cell is set up the same way wherever it runs."""

import os
import time

from .platform import compat as compat_mod
from .platform import fingerprint
from .protocol import Event, Job, Kind, Result, ScriptSpec


def prepare(job, events, result, seed=True):
    """Knobs, the TensorFlow import, threads, determinism, XLA, seeds, the fingerprint: what
    every cell does before its model (or script) runs. Returns (np, compat, compile kwargs).
    seed=False (a script with seeding = "script"): no seed is set, the script's own rule."""
    knobs = job[Job.KNOBS]
    result[Result.KNOBS_APPLIED] = compat_mod.pre_import(job[Job.TF_VERSION], knobs)
    t0 = time.time()
    import numpy as np
    import tensorflow as tf

    result[Result.TIMINGS]["import"] = round(time.time() - t0, 4)
    events.emit(Event.IMPORTED, seconds=result[Result.TIMINGS]["import"])

    # a script runs as it would bare: on 1.x in graph mode unless it enables eager itself
    eager = job.get(Job.KIND) != Kind.SCRIPT or _script_enables_eager(job)
    compat = compat_mod.Compat(tf, knobs, eager=eager)
    if job.get(Job.KIND) == Kind.SCRIPT and eager and compat.tf1:
        result[Result.KNOBS_APPLIED]["eager"] = (
            "enabled before the script: it calls enable_eager_execution, which TF 1.x allows "
            "only at program startup (its own call then does nothing more)"
        )
    compile_kwargs, applied = apply_knobs(compat, knobs, int(job[Job.SEED]) if seed else None)
    result[Result.KNOBS_APPLIED].update(applied)
    if knobs.get("device") == "gpu" and not any(
        d.startswith("GPU") for d in fingerprint.devices(tf)
    ):
        raise RuntimeError("device=gpu but TensorFlow sees no GPU in this environment")

    result[Result.FINGERPRINT] = fingerprint.collect(compat, np)
    result[Result.KERAS_VERSION] = compat.keras_version
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


_EAGER_CALLS = ("enable_eager_execution", "enable_v2_behavior")


def _script_enables_eager(job):
    """Whether a script turns on eager execution itself (TF 1.x: it must be the first thing
    TensorFlow does, and tfrepro's own setup comes before the script's first line)."""
    script = job.get(Job.SCRIPT) or {}
    source = script.get(ScriptSpec.SOURCE)  # a notebook's code
    if source is None and script.get(ScriptSpec.KIND) != ScriptSpec.MODULE:
        try:
            with open(os.path.join(os.getcwd(), script.get(ScriptSpec.NAME, ""))) as f:
                source = f.read()
        except (OSError, UnicodeDecodeError):
            return False
    return any(call in (source or "") for call in _EAGER_CALLS)
