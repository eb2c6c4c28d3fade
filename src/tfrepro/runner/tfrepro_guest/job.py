"""One job, from its file to its result.json: the guest's dispatch.

Outputs in job[Job.OUT_DIR] (see protocol): events.jsonl (streamed), arrays.npz and
result.json (written last, atomically). Any exception becomes Status.FAILED with its
traceback; a NaN/inf loss becomes Status.DIVERGED. A hard crash (signal) leaves no
result.json, and the host records it from the exit status and stderr.
"""

import json
import os
import resource
import time
import traceback

from .cell.context import Diverged
from .platform.events import EventLog
from .protocol import Array, Event, Job, Kind, Result, Stage, Status, Worker, unavailable


def run(job, events, result, arrays):
    """The job's kind, run: a model cell's training, its probe, or a script."""
    t_start = time.time()
    kind = job.get(Job.KIND, Kind.TRAIN)
    if kind == Kind.SCRIPT:
        from .script import run as script

        script.run(job, events, result, arrays)
    else:
        from .cell import run as cell

        s = cell.setup(job, events, result, arrays)
        if kind == Kind.PROBE:
            from .probe import model as probe

            probe.probe(job[Job.PROBE], s, result, arrays)
        else:
            cell.train(s, events, result, arrays)
        result[Result.STATUS] = Status.OK
    result[Result.TIMINGS]["total"] = round(time.time() - t_start, 4)


def run_job(job_path, worker):
    """One cell from its job file to its result.json (worker: how this process runs cells, for
    the record). Never raises for a failing cell."""
    with open(job_path) as f:
        job = json.load(f)
    out = job[Job.OUT_DIR]
    events = EventLog(os.path.join(out, "events.jsonl"))
    events.emit(Event.START, cell=job.get(Job.CELL_ID), pid=os.getpid())
    result = {
        Result.STATUS: Status.FAILED,
        Result.REASON: "",
        Result.TIMINGS: {},
        Result.WORKER: worker,
    }
    arrays = {}
    try:
        run(job, events, result, arrays)
    except Diverged as exc:
        result[Result.STATUS] = Status.DIVERGED
        result[Result.REASON] = str(exc)
    except BaseException as exc:  # every failure is data for the host
        result[Result.STATUS] = Status.FAILED
        result[Result.REASON] = "%s: %s" % (type(exc).__name__, exc)
        result[Result.TRACEBACK] = traceback.format_exc()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    result[Result.PEAK_MEMORY_MB] = round(peak, 1)
    if arrays:
        import numpy as np

        dropped = _plain_arrays(np, arrays)
        if dropped:
            result[Result.DROPPED_ARRAYS] = dropped
            _unmeasured(arrays, result, dropped)
        tmp = os.path.join(out, "arrays.tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, os.path.join(out, "arrays.npz"))
    events.emit(Event.DONE, status=result[Result.STATUS])
    events.close()
    _atomic_write(os.path.join(out, "result.json"), json.dumps(result))


def fresh(job_path):
    """`python runner JOB.json`: one job in this process."""
    run_job(job_path, {Worker.MODE: Worker.FRESH})
    return 0


def _plain_arrays(np, arrays):
    """Arrays the host can load without pickle: an object array (a ragged list of outputs, an
    IndexedSlices gradient) becomes a numeric one where it can, else is left out and named.
    Returns {name: why} of those left out."""
    dropped = {}
    for name in list(arrays):
        value = np.asarray(arrays[name])
        if value.dtype != object:
            arrays[name] = value
            continue
        try:
            arrays[name] = np.asarray(value.tolist(), dtype=np.float64)
        except Exception as exc:  # ragged: not one array
            del arrays[name]
            dropped[name] = "%s: %s" % (type(exc).__name__, exc)
    return dropped


# The probe stage an array prefix measures: a stage missing one of its arrays is not measured.
_STAGE_OF = (
    (Array.FORWARD, Stage.FORWARD),
    (Array.TRAIN_FORWARD, Stage.TRAIN_FORWARD),
    (Array.MOVING, Stage.TRAIN_FORWARD),
    (Array.GRAD, Stage.GRADIENT),
    (Array.UPDATE, Stage.OPTIMIZER),
    (Array.TRAJECTORY, Stage.TRAJECTORY),
)


def _unmeasured(arrays, result, dropped):
    """Every stage that lost an array is "not measured" (never compared with holes in it)."""
    for name, why in sorted(dropped.items()):
        for prefix, stage in _STAGE_OF:
            if name.startswith(prefix):
                result.setdefault(
                    unavailable(stage), "array %s could not be saved (%s)" % (name, why)
                )
                for other in [n for n in arrays if n.startswith(prefix)]:
                    del arrays[other]


def _atomic_write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
