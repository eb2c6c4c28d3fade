"""Script mode: the user's own script, unchanged, with tfrepro watching (README, "Your own script").

Before the script's first line: the cell's knobs and seeds (boot.prepare, as for model cells),
then the hooks (hooks.py) and a `tfrepro` module with `log(name, value, step)`. After its last
line (or its exception): finish.py. An exception from the script (or TensorFlow) is the cell's
failure; whatever tfrepro's own code raises is a warning (ScriptInfo.WARNINGS).
"""

import math
import os
import runpy
import sys
import traceback
import types

from .. import boot
from ..probe.script import ProbeDone, ProbeFailed
from ..protocol import Job, Result, ScriptInfo, ScriptSpec, Status
from . import finish, hooks
from .recorder import Recorder

_RUNNER_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(job, events, result, arrays):
    script = job[Job.SCRIPT]
    own = script.get(ScriptSpec.SEEDING, "cell") == "script"
    np, compat, compile_kwargs = boot.prepare(job, events, result, seed=not own)
    rec = Recorder(np, compat, job, events, result, arrays, os.getcwd())
    swapped = [] if rec.legacy_optimizers else None
    hooks.install(rec, compile_kwargs, swapped)
    impl = job[Job.KNOBS].get("optimizer_impl", "keras")
    if impl != "keras":
        result[Result.KNOBS_APPLIED]["optimizer_impl"] = _optimizer_impl(compat, impl, swapped)
    sys.modules.setdefault("tfrepro", _api(rec))
    info = {
        ScriptInfo.TARGET: script[ScriptSpec.NAME],
        ScriptInfo.ARGV: list(script[ScriptSpec.ARGV]),
        ScriptInfo.EXIT_CODE: 0,
        ScriptInfo.SEEDING: rec.seeding,
    }
    result[Result.SCRIPT] = info
    try:
        failure = _run_script(rec, script, result, info)
    except ProbeDone:
        info[ScriptInfo.PROBE] = _probed_where(rec)
        result[Result.STATUS] = Status.OK
        return
    except ProbeFailed as exc:
        result[Result.STATUS], result[Result.REASON] = Status.FAILED, str(exc)
        return
    finish.finish(rec, result, arrays, info)
    losses = result[Result.LOSS]
    bad = [i for i, v in enumerate(losses) if not math.isfinite(v)]
    if bad:
        result[Result.STATUS] = Status.DIVERGED
        result[Result.REASON] = "loss is %r at step %d" % (losses[bad[0]], bad[0]) + (
            " (then %s)" % failure if failure else ""
        )
    elif failure:
        result[Result.STATUS] = Status.FAILED
        result[Result.REASON] = failure
    else:
        result[Result.STATUS] = Status.OK


def _run_script(rec, script, result, info):
    """The script, to its end: None, or why it failed (its exit code in info). Lets the
    probe's ProbeDone / ProbeFailed through."""
    try:
        _execute(script)
        if rec.probe_fit:
            raise ProbeFailed(
                "the script made %d fit call(s): there is no fit #%d to probe (explain --fit "
                "counts from 1)" % (rec.fits, rec.probe_fit + 1)
            )
        if rec.probe is not None:
            raise ProbeFailed(
                "the script ended without a Keras fit or an eager "
                "apply_gradients, where explain on a script starts (TF1 Session "
                "scripts are not probed yet)"
            )
    except (ProbeDone, ProbeFailed):
        raise
    except SystemExit as exc:
        code = exc.code
        if code is None or code == 0:
            info[ScriptInfo.EXIT_CODE] = 0
        elif isinstance(code, int):
            info[ScriptInfo.EXIT_CODE] = code
            return "the script exited with code %d" % code
        else:
            info[ScriptInfo.EXIT_CODE] = 1
            return "the script exited: %s" % (code,)
    except BaseException as exc:  # the script's own failure is the cell's
        info[ScriptInfo.EXIT_CODE] = 1
        result[Result.TRACEBACK] = traceback.format_exc()
        return "%s: %s" % (type(exc).__name__, exc)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return None


def _optimizer_impl(compat, impl, swapped):
    """How the optimizer_impl knob applied to a script (for the record)."""
    if impl != "legacy":
        return "not applicable: the script builds its own optimizer (%s)" % impl
    if compat.keras3:
        return (
            "not applicable: Keras %s has no legacy optimizers; combine optimizer_impl = legacy "
            "with legacy_keras = true" % compat.keras_version
        )
    if not swapped:
        return "not applicable: before TF 2.11 the Keras optimizers are the legacy ones"
    names = sorted({name.rsplit(".", 1)[-1] for name in swapped})
    return "legacy: the script's Keras optimizers are keras.optimizers.legacy.{%s}" % ",".join(
        names
    )


def _probed_where(rec):
    if rec.probe_at == "fit" and rec.probe_fit:
        return "ended at the script's fit #%d (model %r)" % (rec.probe_fit + 1, rec.probed_model)
    return "ended at the script's first %s" % rec.probe_at


def _api(rec):
    api = types.ModuleType("tfrepro")
    api.__doc__ = "tfrepro's script API inside a cell: log(name, value, step=None)."
    api.log = rec.log
    api.in_cell = True
    return api


def _execute(script):
    """The script as `python SCRIPT ARGS` (or `python -m MODULE`, or a notebook's code) would
    run it, from the cell's private copy of its folder."""
    cwd = os.getcwd()
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _RUNNER_DIR]
    if script[ScriptSpec.KIND] == ScriptSpec.MODULE:
        sys.path.insert(0, cwd)
        sys.argv = [script[ScriptSpec.NAME], *list(script[ScriptSpec.ARGV])]
        runpy.run_module(script[ScriptSpec.NAME], run_name="__main__", alter_sys=True)
        return
    path = os.path.join(cwd, script[ScriptSpec.NAME])
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    sys.argv = [script[ScriptSpec.NAME], *list(script[ScriptSpec.ARGV])]
    if script[ScriptSpec.KIND] == ScriptSpec.NOTEBOOK:
        code = compile(script[ScriptSpec.SOURCE], path, "exec")
        glob = {"__name__": "__main__", "__file__": path, "__builtins__": __builtins__}
        exec(code, glob)
    else:
        runpy.run_path(path, run_name="__main__")
