"""The seed functions a script may call (random, numpy, TensorFlow, Keras), watched.

Each call is recorded with its file and line (ScriptInfo.SEED_CALLS). With seeding = "cell"
the call re-seeds with the cell's seed, so seeds still differ between cells; with seeding =
"script" the script's own value is used.
"""

import os
import random
import sys

_GUEST_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def install(rec, patch, keras_modules):
    np, tf = rec.np, rec.tf
    owners = [(random, "seed", "random.seed"), (np.random, "seed", "numpy.random.seed")]
    if rec.compat.tf1:
        owners += [
            (tf, "set_random_seed", "tf.set_random_seed"),
            (tf.compat.v1, "set_random_seed", "tf.compat.v1.set_random_seed"),
        ]
    else:
        owners += [
            (tf.random, "set_seed", "tf.random.set_seed"),
            (tf.compat.v1, "set_random_seed", "tf.compat.v1.set_random_seed"),
        ]
    for keras in keras_modules:
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
            patch(owner, attr, _seed_hook(rec, name))
        except Exception:  # a read-only module attribute: not watched
            rec.warn("seed hook", RuntimeError("cannot watch %s" % name))


def _seed_hook(rec, name):
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
                    args = (rec.seed, *tuple(args[1:])) if args else (rec.seed,)
                    kwargs = {}
                else:
                    call["used"] = call["value"]
                rec.seed_calls.append(call)
                return orig(*args, **kwargs)
            finally:
                rec.seed_depth -= 1

        return seed

    return make


def _caller():
    """file:line of the script's call (the first frame outside the guest)."""
    frame = sys._getframe(2)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_GUEST_DIR):
        frame = frame.f_back
    if frame is None:
        return None
    return "%s:%d" % (os.path.relpath(frame.f_code.co_filename), frame.f_lineno)


def _plain(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    try:
        return int(value)
    except Exception:  # e.g. a numpy array as seed: kept as its text
        return repr(value)
