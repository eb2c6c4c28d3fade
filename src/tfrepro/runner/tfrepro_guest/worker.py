"""A warm worker: one TensorFlow import, then model cells one after another.

`python runner --serve BOOT.json`. BOOT names the release and the knobs every cell of this
worker shares (the host starts one worker per environment and setting; only the seed differs).
The protocol is one JSON line each way on the process's original stdout/stdin:

    host -> {"job": "/path/job.json"}
    worker -> {"done": true} | {"done": true, "retire": why}      (protocol.Worker)

While a cell runs, file descriptors 1 and 2 point at that cell's stdout.txt / stderr.txt (so a
crash leaves its traceback where a fresh cell's would be), and the cell runs in its own folder.
Between cells everything a cell can leave behind is reset: the Keras session (models, layer
name counters, random generators), TensorFlow 1's default graph, the user's own modules; then
the knobs and seeds are set again exactly as in a fresh process. The global settings a model
can change and that outlive a Keras session (environment, float type, dtype policy, XLA,
TF32, determinism, threads, …) are compared with what the worker started with: when a cell
changed one, the worker says so (`retire`) and exits, and the host runs that setting's
remaining cells in fresh processes.
"""

import contextlib
import gc
import json
import os
import sys
import time

from . import boot, job
from .platform import compat as compat_mod
from .protocol import Boot, Job, Worker


def serve(boot_path):
    with open(boot_path) as f:
        settings = json.load(f)
    knobs = settings[Boot.KNOBS]
    proto_out = os.fdopen(os.dup(1), "w")
    proto_in = os.fdopen(os.dup(0), "r")
    nothing = os.open(os.devnull, os.O_RDONLY)  # a cell reading stdin gets EOF, not protocol
    os.dup2(nothing, 0)
    os.close(nothing)
    _point_output_at(settings[Boot.LOG])  # the import's messages (oneDNN, CPU features) go here
    t0 = time.time()
    compat_mod.pre_import(settings[Boot.TF_VERSION], knobs)
    import numpy as np
    import tensorflow as tf

    imported = round(time.time() - t0, 4)
    compat = compat_mod.Compat(tf, knobs)
    boot.apply_knobs(compat, knobs, 0)
    modules = set(sys.modules)
    registered = set(_custom_objects(compat.keras))
    baseline = global_state(compat, np)
    home = os.getcwd()
    _reply(proto_out, {Worker.READY: True, "pid": os.getpid(), "import_seconds": imported})
    for count, line in enumerate(proto_in, 1):
        request = json.loads(line)
        with open(request[Worker.JOB]) as f:
            out = json.load(f)[Job.OUT_DIR]
        _point_output_at(os.path.join(out, "stderr.txt"), os.path.join(out, "stdout.txt"))
        os.chdir(out)
        job.run_job(
            request[Worker.JOB],
            {
                Worker.MODE: Worker.WARM,
                "pid": os.getpid(),
                "cell": count,
                "import_seconds": imported,
            },
        )
        _point_output_at(settings[Boot.LOG])
        os.chdir(home)
        reset(compat, modules, registered)
        boot.apply_knobs(compat, knobs, 0)
        changed = sorted(k for k in baseline if global_state(compat, np).get(k) != baseline[k])
        if changed:
            _reply(
                proto_out,
                {
                    Worker.DONE: True,
                    Worker.RETIRE: "the cell changed global "
                    "state that outlives a Keras session: " + ", ".join(changed),
                },
            )
            return 0
        _reply(proto_out, {Worker.DONE: True})
    return 0


def reset(compat, modules, registered):
    """Forget everything the last cell built: Keras' session (models, name counters, seed
    generators), TF 1's default graph, the custom objects it registered (Keras 2 refuses a name
    registered twice), and the modules the user's code imported (they run again, with fresh
    module-level state, in the next cell)."""
    compat.keras.backend.clear_session()
    objects = _custom_objects(compat.keras)
    for name in [n for n in objects if n not in registered]:
        del objects[name]
    if compat.tf1:
        compat.tf.compat.v1.reset_default_graph()
    prefixes = tuple(p for p in {sys.prefix, sys.base_prefix, sys.exec_prefix} if p)
    here = os.path.dirname(os.path.abspath(__file__))  # the guest's own modules stay
    for name in [m for m in list(sys.modules) if m not in modules]:
        path = getattr(sys.modules.get(name), "__file__", None) or ""
        if path and not os.path.abspath(path).startswith((*prefixes, here)):
            del sys.modules[name]
    gc.collect()


def global_state(compat, np):
    """What outlives clear_session and could change a later cell's numbers."""
    tf, keras = compat.tf, compat.keras
    probes = {
        "environment": lambda: sorted(os.environ.items()),
        "sys.path": lambda: list(sys.path),
        "floatx": keras.backend.floatx,
        "epsilon": keras.backend.epsilon,
        "image_data_format": keras.backend.image_data_format,
        "dtype policy": lambda: _policy(keras),
        "executing eagerly": tf.executing_eagerly,
        "XLA (set_jit)": lambda: tf.config.optimizer.get_jit(),
        "grappler options": lambda: sorted(tf.config.optimizer.get_experimental_options().items()),
        "run functions eagerly": lambda: tf.config.functions_run_eagerly(),
        "TF32": lambda: tf.config.experimental.tensor_float_32_execution_enabled(),
        "soft device placement": lambda: tf.config.get_soft_device_placement(),
        "op determinism": lambda: tf.config.experimental.is_op_determinism_enabled(),
        "threads": lambda: (
            tf.config.threading.get_intra_op_parallelism_threads(),
            tf.config.threading.get_inter_op_parallelism_threads(),
        ),
        "numpy error state": lambda: sorted(np.geterr().items()),
    }
    state = {}
    for name, probe in probes.items():
        with contextlib.suppress(Exception):  # not in this release: nothing to compare
            state[name] = repr(probe())
    return state


def _custom_objects(keras):
    """Keras' global registry of custom objects (a dict; empty if this Keras has none)."""
    for module in (getattr(keras, "saving", None), getattr(keras, "utils", None)):
        get = getattr(module, "get_custom_objects", None)
        if get is not None:
            return get()
    return {}


def _policy(keras):
    config = getattr(keras, "config", None)
    if config is not None and hasattr(config, "dtype_policy"):
        return config.dtype_policy().name  # Keras 3
    return keras.mixed_precision.global_policy().name


def _point_output_at(stderr_path, stdout_path=None):
    """fds 1 and 2 (C++ logs included) to files; stdout to the log too unless given."""
    sys.stdout.flush()
    sys.stderr.flush()
    for fd, path in ((1, stdout_path or stderr_path), (2, stderr_path)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(target, fd)
        os.close(target)


def _reply(out, message):
    out.write(json.dumps(message) + "\n")
    out.flush()
