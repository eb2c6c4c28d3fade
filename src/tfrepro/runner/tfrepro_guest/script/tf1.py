"""Script mode on TensorFlow 1.x graph-mode scripts: `Session.run` of a train op.

Hooks (each calls the original once; tfrepro's own failures become warnings):
- `tf.compat.v1.train.Optimizer.apply_gradients` (and `minimize`, which calls it) in graph mode:
  remembers the train op it returns, the variables it updates and, from `minimize`, the loss.
- `Session.run`: when the fetches include the first train op the script built ("the" train op),
  the variables' values are read before its first run (initial weights), the loss is fetched
  along with it (the same run: one more fetch of a tensor the step computes anyway) and the
  arrays fed to it are hashed (the data fingerprint).
- `Session.close` (a `with` block's end included): the variables' values after the last run of
  the train op (final weights); a session the script never closes is read after the script.
"""

import hashlib

from ..platform.hashing import arrays_sha256
from ..protocol import Event


class TrainOp(object):
    def __init__(self, op, variables):
        self.op, self.variables, self.loss = op, variables, None
        self.session = None  # the session that ran it first
        self.init = None
        self.final = None
        self.losses = []
        self.steps = 0
        self.data = hashlib.sha256()


def _owner(cls, name):
    return next(c for c in cls.__mro__ if name in c.__dict__)


def install(rec, patch):
    tf = rec.tf
    v1 = tf.compat.v1

    def apply_make(orig):
        def apply_gradients(self, grads_and_vars, *args, **kwargs):
            grads_and_vars = list(grads_and_vars)  # a generator can be read once
            op = orig(self, grads_and_vars, *args, **kwargs)
            if rec.keras_depth == 0 and not tf.executing_eagerly():
                rec.guard(
                    "apply_gradients hook",
                    lambda: rec.tf1_ops.append(
                        TrainOp(op, [v for g, v in grads_and_vars if g is not None])
                    ),
                )
            return op

        return apply_gradients

    def minimize_make(orig):
        def minimize(self, loss, *args, **kwargs):
            op = orig(self, loss, *args, **kwargs)

            def remember():
                for t in rec.tf1_ops:
                    if t.op is op and t.loss is None and hasattr(loss, "dtype"):
                        t.loss = loss

            rec.guard("minimize hook", remember)
            return op

        return minimize

    optimizer = v1.train.Optimizer
    patch(_owner(optimizer, "apply_gradients"), "apply_gradients", apply_make)
    patch(_owner(optimizer, "minimize"), "minimize", minimize_make)

    session_cls = _owner(v1.Session, "run")
    original_run = session_cls.__dict__["run"]

    def run_make(orig):
        def run(self, fetches, feed_dict=None, *args, **kwargs):
            train = None
            if rec.tf1_ops and rec.keras_depth == 0:
                train = rec.guard("Session.run hook", _train_op_in, rec, fetches)
            if train is None:
                return orig(self, fetches, feed_dict, *args, **kwargs)
            if train.session is None:
                train.session = self
                train.init = rec.guard("initial weights", original_run, self, train.variables)
            extra = train.loss is not None and train.session is self
            out = orig(
                self, (fetches, train.loss) if extra else fetches, feed_dict, *args, **kwargs
            )
            if train.session is self:
                train.steps += 1
                rec.guard("data fingerprint", _feed_hash, rec, train, feed_dict)
                if extra:
                    out, value = out
                    rec.guard("loss capture", lambda: _loss(rec, train, value))
            return out

        return run

    def close_make(orig):
        def close(self, *args, **kwargs):
            for t in rec.tf1_ops:
                if t.session is self and not getattr(self, "_closed", False):
                    t.final = rec.guard("final weights", original_run, self, t.variables)
            return orig(self, *args, **kwargs)

        return close

    patch(session_cls, "run", run_make)
    patch(_owner(v1.Session, "close"), "close", close_make)


def _train_op_in(rec, fetches):
    """The script's first train op when these fetches run it (else None)."""
    first = next((t for t in rec.tf1_ops if t.session is not None), rec.tf1_ops[0])
    for f in rec.tf.nest.flatten(fetches):
        if (
            f is first.op
            or getattr(f, "op", None) is first.op
            or (isinstance(f, str) and f.split(":")[0] == first.op.name)
        ):
            return first
    return None


def _feed_hash(rec, train, feed_dict):
    if not feed_dict:
        return
    items = sorted(
        ((str(getattr(k, "name", k)), v) for k, v in feed_dict.items()), key=lambda kv: kv[0]
    )
    train.data.update(arrays_sha256((k, rec.np.asarray(v)) for k, v in items).encode())


def _loss(rec, train, value):
    value = rec.scalar(value)
    train.losses.append(value)
    rec.events.emit(Event.LOG, name="loss", value=value, step=len(train.losses) - 1)


def finish(rec):
    """(init, final, names, losses, data sha256, info) of the train op, or None."""
    ran = [t for t in rec.tf1_ops if t.session is not None]
    if not ran:
        return None
    t = ran[0]
    if t.final is None and not getattr(t.session, "_closed", True):
        t.final = rec.guard("final weights", t.session.run, t.variables)
    names = [str(v.name) for v in t.variables]
    info = {
        "train_op": str(t.op.name),
        "steps": t.steps,
        "loss": str(t.loss.name) if t.loss is not None else None,
        "variables": names,
    }
    if t.loss is None:
        rec.warn(
            "TF1 train op",
            RuntimeError(
                "the train op was built with apply_gradients, not minimize(loss): its loss is not "
                "known; log it with `from tfrepro import log`"
            ),
        )
    data = t.data.hexdigest() if t.steps else None
    return (list(t.init or []), list(t.final or []), names, t.losses, data, info)
