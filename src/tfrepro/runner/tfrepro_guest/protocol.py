"""The contract between the host and the guest: the one place their shared words are spelled.

Standard library only, importable on Python 3.7 by the guest and on the host's Python as
`tfrepro.runner.tfrepro_guest.protocol`. Neither side writes a job field, a result key, an
array name or an event name as a bare string: it names it here.

The exchange, for one cell (a fresh process or a warm worker's turn):

    host  -> JOB.json          a job: Job.* fields; Job.KIND is one of Kind.*
    guest -> events.jsonl      one JSON object a line, {"event": Event.*, "t": seconds, ...}
    guest -> arrays.npz        numpy arrays named Array.* (prefixes take an index: "init_0")
    guest -> result.json       written last, atomically: Result.* keys; Result.STATUS is one
                               of Status.*; no result.json means the process died (the host
                               reads its exit status and stderr instead)

A warm worker (`python runner --serve BOOT.json`) speaks one JSON line each way on its
original stdin/stdout: host {Worker.JOB: path}, worker {Worker.READY: true, ...} once, then
{Worker.DONE: true} or {Worker.DONE: true, Worker.RETIRE: why} after each job.
"""


class Kind(object):
    """What a job asks for (Job.KIND)."""

    TRAIN = "train"  # a model cell: tfrepro's own training loop on a built-in or user model
    PROBE = "probe"  # explain on a model cell: the stages on one batch (Job.PROBE says how)
    SCRIPT = "script"  # the user's own script, unchanged, watched by hooks (Job.SCRIPT)


class Job(object):
    """Fields of a job file."""

    KIND = "kind"
    CELL_ID = "cell_id"
    SEED = "seed"
    TF_VERSION = "tf_version"
    KNOBS = "knobs"
    OUT_DIR = "out_dir"  # where the guest writes events, arrays and the result
    # model cells
    MODEL = "model"  # ModelSpec.* fields
    DATA_PATH = "data_path"  # .npz with x_train, y_train, x_test, y_test
    ORDER_PATH = "order_path"  # .npz with the host's batch order ("order"), or None
    TASK = "task"  # "classification" | "regression"
    N_CLASSES = "n_classes"
    TRAIN = "train"  # the spec's [train]: epochs, batch_size, optimizer, learning_rate
    PARAMS = "params"
    # script cells
    SCRIPT = "script"  # ScriptSpec.* fields
    # explain (a model cell of Kind.PROBE, or a script cell that carries it)
    PROBE = "probe"  # {"weights_path", "grads_path", "steps"}


class ModelSpec(object):
    """Fields of Job.MODEL."""

    KIND = "kind"  # BUILTIN | FILE
    BUILTIN = "builtin"
    FILE = "file"
    NAME = "name"  # a built-in model: mlp | cnn | rnn
    PATH = "path"  # the user's model file (build_model(ctx), optionally fit(ctx, model))
    HIDDEN = "hidden"


class ScriptSpec(object):
    """Fields of Job.SCRIPT."""

    KIND = "kind"  # FILE | MODULE | NOTEBOOK
    FILE = "file"
    MODULE = "module"
    NOTEBOOK = "notebook"
    NAME = "name"
    ARGV = "argv"
    CWD = "cwd"  # the folder (its private copy is the cell's working directory)
    SEEDING = "seeding"  # "cell" | "script"
    SOURCE = "source"  # a notebook's code cells, joined


class ProbeSpec(object):
    """Fields of Job.PROBE."""

    WEIGHTS_PATH = "weights_path"  # A's arrays: its initial weights and batches go into B
    GRADS_PATH = "grads_path"  # A's arrays: its gradients drive B's optimizer update
    STEPS = "steps"  # training steps in lockstep (the trajectory)
    FIT = "fit"  # scripts: which of the script's fit calls to probe at (0: the first)


class Status(object):
    OK = "ok"
    FAILED = "failed"
    DIVERGED = "diverged"


class Result(object):
    """Keys of result.json."""

    STATUS = "status"
    REASON = "reason"
    TRACEBACK = "traceback"
    WORKER = "worker"  # how the process ran cells: {"mode": "fresh" | "warm", ...}
    TIMINGS = "timings"  # seconds: import, build, fit, evaluate, total
    PEAK_MEMORY_MB = "peak_memory_mb"
    KNOBS_APPLIED = "knobs_applied"  # knob -> how it was applied in this release
    FINGERPRINT = "fingerprint"
    KERAS_VERSION = "keras_version"
    DATA_SHA256 = "data_sha256"
    DATA_SHA256_USED = "data_sha256_used"  # the data as training saw it
    INIT_WEIGHTS_SHA256 = "init_weights_sha256"
    FINAL_WEIGHTS_SHA256 = "final_weights_sha256"
    OPTIMIZER_CLASS = "optimizer_class"
    LOSS = "loss"  # per-step training loss
    EPOCH_METRICS = "epoch_metrics"
    METRICS = "metrics"  # final evaluation
    LOGS = "logs"  # every other logged scalar: name -> [[step, value], ...]
    SCRIPT = "script"  # script cells: ScriptInfo.* keys
    # explain's probe
    CONFIGS = "configs"
    START_WEIGHTS_SHA256 = "start_weights_sha256"
    LAYER_NAMES = "layer_names"
    MOVING_NAMES = "moving_names"
    TRAINABLE_NAMES = "trainable_names"
    PROBE_LOSS = "probe_loss"
    PROBE_DATA = "probe_data"
    PROBE_BATCH = "probe_batch"
    LOSS_FROM = "loss_from"
    BUILT_BY_PROBE = "built_by_probe"
    UPDATE_OPTIMIZER = "update_optimizer"
    TRAJECTORY_LOSS = "trajectory_loss"
    DROPPED_ARRAYS = "dropped_arrays"  # {array name: why} of arrays no plain .npz could hold


class Stage(object):
    """explain's stages; a stage that could not be measured has Result key unavailable(stage)."""

    DATA = "data"
    FORWARD = "forward"
    TRAIN_FORWARD = "train_forward"
    LOSS = "loss"
    GRADIENT = "gradient"
    OPTIMIZER = "optimizer"
    TRAJECTORY = "trajectory"


def unavailable(stage):
    """The result key that says why `stage` was not measured."""
    return stage + "_unavailable"


class ScriptInfo(object):
    """Keys of Result.SCRIPT."""

    TARGET = "target"
    ARGV = "argv"
    EXIT_CODE = "exit_code"
    SEEDING = "seeding"
    PROBE = "probe"  # where explain's probe ended the script
    LOSS_FROM = "loss_from"  # keras | session.run | log | gradient_tape | tf.summary | None
    METRICS_FROM = "metrics_from"  # evaluate | last epoch logs | None
    MODELS = "models"  # every trained Keras model: name, class, init_sha256, final_sha256
    DATA = "data"  # [{"fit", "sha256", "what"}]
    CUSTOM_LOOP = "custom_loop"
    TF1_TRAIN_OP = "tf1_train_op"
    SEED_CALLS = "seed_calls"
    SEEDS_ITSELF = "seeds_itself"
    WARNINGS = "warnings"  # what tfrepro failed to record; the script ran regardless


class Array(object):
    """Names in arrays.npz. The *_ prefixes are followed by an index ("grad_3"), bx_/by_ by
    the batch and the part ("bx_0_1")."""

    WEIGHT_NAMES = "weight_names"
    INIT = "init_"
    FINAL = "final_"
    PREDICTIONS = "predictions"
    LABELS = "labels"
    # explain's probe
    BATCH_INDEX = "batch_index"
    FORWARD = "fwd_"  # each layer's output, inference mode
    TRAIN_FORWARD = "tfwd_"  # training mode
    MOVING = "mstat_"  # the update of BatchNormalization's moving statistics
    GRAD = "grad_"
    UPDATE = "update_"
    BATCH_X = "bx_"
    BATCH_Y = "by_"
    TRAJECTORY = "trajectory"


def indexed(prefix, i, j=None):
    """The array name of item `i` (and part `j`) under `prefix`: ("grad_", 3) -> "grad_3"."""
    return "%s%d" % (prefix, i) if j is None else "%s%d_%d" % (prefix, i, j)


def count(names, prefix):
    """How many of `names` are `prefix` followed by an index alone (init_0, init_1, ...)."""
    return len([n for n in names if n.startswith(prefix) and n[len(prefix) :].isdigit()])


class Event(object):
    """Names of events in events.jsonl."""

    START = "start"
    IMPORTED = "imported"
    BUILT = "built"
    LOG = "log"
    EPOCH = "epoch"
    HOOK_WARNING = "hook_warning"
    DONE = "done"


class Boot(object):
    """Fields of a warm worker's BOOT.json: what every cell of that worker shares."""

    TF_VERSION = "tf_version"
    KNOBS = "knobs"
    LOG = "log"  # where the worker's own output goes between cells


class Worker(object):
    """The warm worker's line protocol (see the module docstring)."""

    JOB = "job"
    READY = "ready"
    DONE = "done"
    RETIRE = "retire"
    MODE = "mode"  # of Result.WORKER: "fresh" | "warm"
    FRESH = "fresh"
    WARM = "warm"
